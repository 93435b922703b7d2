/*
 * paintwatch: launches a program on an X display and reports, from outside the program, when its
 * window paints what. Used by scripts/bench-window.sh; figures only.
 *
 * Method. The X server (Xvfb, no compositor, no window manager) holds the screen's pixels. We ask it
 * for DAMAGE events on the root window (every drawing to any window is reported there, as x11vnc
 * relies on), and after each event grab the whole screen through MIT-SHM and keep a signature of it:
 * one 64-bit hash per 16x16 block. The app is not instrumented; between paints we sleep in poll(),
 * so the watcher costs no CPU while the app starts. Times are CLOCK_MONOTONIC from just before fork().
 *
 *   first_frame      the first grab that differs from the screen before launch (the window mapped)
 *   first_nonblank   the first grab whose changed area holds more than one colour (a flat white or
 *                    background-coloured window is blank)
 *   useful           the first grab equal to the settled screen: the screen once nothing at all
 *                    changed for --settle ms (a spinner counts as change; the caller turns the
 *                    caret's blinking off). "Equal" allows a few 16x16 blocks of difference.
 *
 * With --sign-in EMAIL PASSWORD, after the first screen settled it types Tab, EMAIL, Tab, PASSWORD,
 * Return through XTEST (the sign-in form: Tab reaches the email field first) and measures Return to
 * the first grab equal to the next settled screen (the day view).
 *
 * With --then-alt N as well, once that view settled it presses Alt+N (the app's tab shortcut) and
 * measures the key to the first grab equal to the next settled screen (then_to_view_ms).
 *
 * With --idle-pss S, S seconds after the last screen settled it sums Pss from /proc/PID/smaps_rollup
 * for the app and every descendant (WebKitWebProcess, WebKitNetworkProcess, bwrap, dbus proxy).
 *
 * Prints one JSON object on stdout; PAINTWATCH_TRACE=1 also lists every distinct grab on stderr. Build: cc -O2 -o paintwatch paintwatch.c -lX11 -lXext -lXdamage -lXtst
 */
#define _GNU_SOURCE
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/Xdamage.h>
#include <X11/XKBlib.h>
#include <X11/keysym.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 16
#define MINOR_BLOCKS 4 /* a caret or a one-character change; anything larger is a new screen */
#define MAX_FRAMES 4000

static Display *dpy;
static Window root;
static XImage *img;
static XShmSegmentInfo shm;
static int width, height, bw, bh, nblocks;
static int damage_event_base;
static Damage damage;
static double t0;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
    double t;
    uint64_t *sig;
    int nonblank;
} Frame;

static Frame frames[MAX_FRAMES];
static int nframes;
static uint64_t *baseline;
static uint32_t *baseline_px; /* the screen before launch, pixel by pixel */
static int trace;

static void grab(uint64_t *sig, int *nonblank) {
    XShmGetImage(dpy, root, img, 0, 0, AllPlanes);
    const uint32_t *px = (const uint32_t *)img->data;
    int stride = img->bytes_per_line / 4;
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            uint64_t h = 1469598103934665603ULL;
            for (int y = by * BLOCK; y < (by + 1) * BLOCK && y < height; y++)
                for (int x = bx * BLOCK; x < (bx + 1) * BLOCK && x < width; x++) {
                    h ^= px[y * stride + x] & 0xffffff;
                    h *= 1099511628211ULL;
                }
            sig[by * bw + bx] = h;
        }
    if (!nonblank) return;
    /* Blank unless the pixels that changed since launch show at least two colours. */
    *nonblank = 0;
    uint32_t first = 0;
    int have_first = 0, odd = 0;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            uint32_t p = px[y * stride + x] & 0xffffff;
            if (p == baseline_px[y * width + x]) continue;
            if (!have_first) { first = p; have_first = 1; }
            else if (p != first && ++odd > 64) { *nonblank = 1; return; }
        }
}

static int diff_blocks(const uint64_t *a, const uint64_t *b) {
    int n = 0;
    for (int i = 0; i < nblocks; i++) n += a[i] != b[i];
    return n;
}

/* Waits for damage up to timeout_ms; returns 1 when the screen may have changed. */
static int wait_damage(int timeout_ms) {
    XFlush(dpy);
    if (XPending(dpy) == 0) {
        struct pollfd pfd = {ConnectionNumber(dpy), POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0) return 0;
    }
    int got = 0;
    while (XPending(dpy)) {
        XEvent ev;
        XNextEvent(dpy, &ev);
        if (ev.type == damage_event_base + XDamageNotify) got = 1;
    }
    if (got) XDamageSubtract(dpy, damage, None, None);
    return got;
}

/* Records grabs from the current moment until the screen has been still for settle_ms (after
 * something non-blank appeared) or timeout_ms passed. Returns the index of the first frame of this
 * phase; the last frame is the settled screen. */
static int watch(int first_index, double settle_ms, double timeout_ms, double start) {
    double last_change = now_ms();
    int seen_nonblank = nframes > first_index && frames[nframes - 1].nonblank;
    for (;;) {
        double t = now_ms();
        if (t - start > timeout_ms) break;
        if (seen_nonblank && t - last_change >= settle_ms) break;
        int wait = seen_nonblank ? (int)(settle_ms - (t - last_change)) + 1 : 50;
        if (!wait_damage(wait)) continue;
        double at = now_ms();
        if (nframes == MAX_FRAMES) break;
        Frame *f = &frames[nframes];
        f->sig = malloc(sizeof(uint64_t) * nblocks);
        grab(f->sig, &f->nonblank);
        const uint64_t *prev = nframes ? frames[nframes - 1].sig : baseline;
        int changed = diff_blocks(f->sig, prev);
        if (changed == 0) { free(f->sig); continue; }
        f->t = at;
        nframes++;
        if (f->nonblank) seen_nonblank = 1;
        /* Every change counts, however small: a spinner is small. (bench-window.sh turns the
         * caret's blinking off, the one endless change a still screen has.) */
        last_change = at;
        if (trace) fprintf(stderr, "paintwatch: %8.1f ms  %4d blocks changed%s\n", at - t0, changed, f->nonblank ? "" : "  (blank)");
    }
    return first_index;
}

/* The first frame of [from, nframes) equal (but for a caret) to the last one. */
static int first_equal_to_last(int from) {
    const uint64_t *last = frames[nframes - 1].sig;
    for (int i = from; i < nframes; i++)
        if (diff_blocks(frames[i].sig, last) <= MINOR_BLOCKS) return i;
    return nframes - 1;
}

static Window biggest_window(void) {
    Window r, parent, *children = NULL, best = None;
    unsigned n = 0;
    long best_area = 0;
    XQueryTree(dpy, root, &r, &parent, &children, &n);
    for (unsigned i = 0; i < n; i++) {
        XWindowAttributes a;
        if (!XGetWindowAttributes(dpy, children[i], &a) || a.map_state != IsViewable) continue;
        if ((long)a.width * a.height > best_area) { best_area = (long)a.width * a.height; best = children[i]; }
    }
    if (children) XFree(children);
    return best;
}

static void key(KeySym sym) {
    KeyCode code = XKeysymToKeycode(dpy, sym);
    if (!code) return;
    int shift = XkbKeycodeToKeysym(dpy, code, 0, 0) != sym && XkbKeycodeToKeysym(dpy, code, 0, 1) == sym;
    KeyCode shift_code = XKeysymToKeycode(dpy, XK_Shift_L);
    if (shift) XTestFakeKeyEvent(dpy, shift_code, True, 0);
    XTestFakeKeyEvent(dpy, code, True, 0);
    XTestFakeKeyEvent(dpy, code, False, 0);
    if (shift) XTestFakeKeyEvent(dpy, shift_code, False, 0);
    XSync(dpy, False);
    usleep(3000);
}

static void type_text(const char *s) {
    for (; *s; s++) {
        char name[2] = {*s, 0};
        KeySym sym = XStringToKeysym(name);
        if (sym == NoSymbol) {
            /* punctuation has names, not characters, in XStringToKeysym */
            switch (*s) {
            case '@': sym = XK_at; break;
            case '.': sym = XK_period; break;
            case '-': sym = XK_minus; break;
            case '_': sym = XK_underscore; break;
            case ' ': sym = XK_space; break;
            case '!': sym = XK_exclam; break;
            case '+': sym = XK_plus; break;
            default: sym = (KeySym)(unsigned char)*s;
            }
        }
        key(sym);
    }
}

/* Every descendant of pid (children first found through /proc/N/stat's ppid). */
static int descendants(pid_t pid, pid_t *out, int max) {
    int n = 0;
    out[n++] = pid;
    for (int i = 0; i < n; i++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            pid_t p = atoi(e->d_name);
            if (p <= 0) continue;
            char path[64], buf[512];
            snprintf(path, sizeof path, "/proc/%d/stat", p);
            FILE *f = fopen(path, "r");
            if (!f) continue;
            size_t len = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[len] = 0;
            char *close_paren = strrchr(buf, ')');
            int ppid = 0;
            if (close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == out[i] && n < max) out[n++] = p;
        }
        if (d) closedir(d);
    }
    return n;
}

static long pss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pss: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static void comm_of(pid_t pid, char *out, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    out[0] = 0;
    if (f) {
        if (fgets(out, (int)size, f)) out[strcspn(out, "\n")] = 0;
        fclose(f);
    }
}

static void write_ppm(const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    XShmGetImage(dpy, root, img, 0, 0, AllPlanes);
    fprintf(f, "P6\n%d %d\n255\n", width, height);
    const uint32_t *px = (const uint32_t *)img->data;
    int stride = img->bytes_per_line / 4;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            uint32_t p = px[y * stride + x];
            unsigned char rgb[3] = {(p >> 16) & 255, (p >> 8) & 255, p & 255};
            fwrite(rgb, 1, 3, f);
        }
    fclose(f);
}

static void usage(void) {
    fprintf(stderr, "usage: paintwatch [--settle MS] [--timeout MS] [--sign-in EMAIL PASSWORD [--then-alt N]] [--idle-pss S]\n"
                    "                  [--shot PREFIX] -- PROGRAM [ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    double settle = 1000, timeout = 30000, idle = -1;
    const char *email = NULL, *password = NULL, *shot = NULL;
    char then_alt = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) { i++; break; }
        else if (!strcmp(argv[i], "--settle") && i + 1 < argc) settle = atof(argv[++i]);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--idle-pss") && i + 1 < argc) idle = atof(argv[++i]);
        else if (!strcmp(argv[i], "--shot") && i + 1 < argc) shot = argv[++i];
        else if (!strcmp(argv[i], "--sign-in") && i + 2 < argc) { email = argv[++i]; password = argv[++i]; }
        else if (!strcmp(argv[i], "--then-alt") && i + 1 < argc) then_alt = argv[++i][0];
        else usage();
    }
    if (i >= argc) usage();

    dpy = XOpenDisplay(NULL);
    if (!dpy) { fprintf(stderr, "paintwatch: cannot open the display\n"); return 1; }
    int error_base, major, minor;
    Bool pixmaps;
    if (!XShmQueryVersion(dpy, &major, &minor, &pixmaps) || !XDamageQueryExtension(dpy, &damage_event_base, &error_base)) {
        fprintf(stderr, "paintwatch: the display lacks MIT-SHM or DAMAGE\n");
        return 1;
    }
    root = DefaultRootWindow(dpy);
    int scr = DefaultScreen(dpy);
    width = DisplayWidth(dpy, scr);
    height = DisplayHeight(dpy, scr);
    bw = (width + BLOCK - 1) / BLOCK;
    bh = (height + BLOCK - 1) / BLOCK;
    nblocks = bw * bh;
    img = XShmCreateImage(dpy, DefaultVisual(dpy, scr), DefaultDepth(dpy, scr), ZPixmap, NULL, &shm, width, height);
    shm.shmid = shmget(IPC_PRIVATE, img->bytes_per_line * img->height, IPC_CREAT | 0600);
    shm.shmaddr = img->data = shmat(shm.shmid, NULL, 0);
    shm.readOnly = False;
    XShmAttach(dpy, &shm);
    shmctl(shm.shmid, IPC_RMID, NULL);
    damage = XDamageCreate(dpy, root, XDamageReportNonEmpty);
    baseline = malloc(sizeof(uint64_t) * nblocks);
    grab(baseline, NULL);
    baseline_px = malloc(sizeof(uint32_t) * width * height);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            baseline_px[y * width + x] = ((uint32_t *)img->data)[y * (img->bytes_per_line / 4) + x] & 0xffffff;
    trace = getenv("PAINTWATCH_TRACE") != NULL;
    XSync(dpy, False);

    t0 = now_ms();
    pid_t app = fork();
    if (app == 0) {
        execvp(argv[i], &argv[i]);
        perror("paintwatch: exec");
        _exit(127);
    }
    watch(0, settle, timeout, t0);
    int ok = nframes > 0;
    printf("{");
    if (ok) {
        int first_nonblank = -1;
        for (int k = 0; k < nframes; k++) if (frames[k].nonblank) { first_nonblank = k; break; }
        int useful = first_equal_to_last(0);
        printf("\"first_frame_ms\":%.1f,", frames[0].t - t0);
        if (first_nonblank >= 0) printf("\"first_nonblank_ms\":%.1f,", frames[first_nonblank].t - t0);
        printf("\"useful_paint_ms\":%.1f,\"frames\":%d", frames[useful].t - t0, nframes);
    } else {
        printf("\"error\":\"no window appeared\"");
    }
    if (shot) {
        char path[4096];
        snprintf(path, sizeof path, "%s-first.ppm", shot);
        write_ppm(path);
    }
    double settled_at = now_ms();
    if (ok && email) {
        Window w = biggest_window();
        if (w != None) {
            XWindowAttributes a;
            XGetWindowAttributes(dpy, w, &a);
            XTestFakeMotionEvent(dpy, scr, a.x + a.width / 2, a.y + a.height / 2, 0);
            XSetInputFocus(dpy, w, RevertToPointerRoot, CurrentTime);
            XSync(dpy, False);
            usleep(100000);
        }
        key(XK_Tab);
        type_text(email);
        key(XK_Tab);
        type_text(password);
        /* The webview handles the keys at its own pace: wait until the typing has been drawn
         * (half a second with no change), so Return starts the clock on a still form. */
        double typed = now_ms();
        while (wait_damage(500) && now_ms() - typed < 10000) {}
        int before = nframes;
        if (nframes < MAX_FRAMES) {
            frames[nframes].sig = malloc(sizeof(uint64_t) * nblocks);
            grab(frames[nframes].sig, &frames[nframes].nonblank);
            frames[nframes].t = now_ms();
            nframes++;
        }
        double submit = now_ms();
        key(XK_Return);
        watch(before + 1, settle, timeout, submit);
        int first = first_equal_to_last(before + 1);
        int changed = diff_blocks(frames[nframes - 1].sig, frames[before].sig);
        if (nframes > before + 1)
            printf(",\"sign_in_to_view_ms\":%.1f,\"view_changed_blocks\":%d", frames[first].t - submit, changed);
        else
            printf(",\"sign_in_error\":\"the screen did not change after Return\"");
        if (shot) {
            char path[4096];
            snprintf(path, sizeof path, "%s-after-sign-in.ppm", shot);
            write_ppm(path);
        }
        settled_at = now_ms();
        if (then_alt && nframes > before + 1) {
            int mark = nframes;
            KeyCode alt = XKeysymToKeycode(dpy, XK_Alt_L);
            KeyCode digit = XKeysymToKeycode(dpy, (KeySym)then_alt);
            if (!alt || !digit) {
                /* No such key on this keyboard map: say so rather than send an event X refuses. */
                printf(",\"then_error\":\"no key code for Alt+%c\"", then_alt);
            } else {
                double pressed = now_ms();
                XTestFakeKeyEvent(dpy, alt, True, 0);
                XTestFakeKeyEvent(dpy, digit, True, 0);
                XTestFakeKeyEvent(dpy, digit, False, 0);
                XTestFakeKeyEvent(dpy, alt, False, 0);
                XSync(dpy, False);
                watch(mark, settle, timeout, pressed);
                if (nframes > mark) {
                    int first_then = first_equal_to_last(mark);
                    printf(",\"then_to_view_ms\":%.1f", frames[first_then].t - pressed);
                } else {
                    printf(",\"then_error\":\"the screen did not change after Alt+%c\"", then_alt);
                }
                if (shot) {
                    char path[4096];
                    snprintf(path, sizeof path, "%s-after-alt-%c.ppm", shot, then_alt);
                    write_ppm(path);
                }
            }
            settled_at = now_ms();
        }
    }
    if (ok && idle >= 0) {
        double wait = idle * 1000 - (now_ms() - settled_at);
        if (wait > 0) usleep((useconds_t)(wait * 1000));
        pid_t pids[256];
        int n = descendants(app, pids, 256);
        long total = 0;
        printf(",\"pss_kib\":{");
        int printed = 0;
        for (int k = 0; k < n; k++) {
            long kib = pss_kib(pids[k]);
            if (kib < 0) continue;
            char comm[64];
            comm_of(pids[k], comm, sizeof comm);
            printf("%s\"%s:%d\":%ld", printed++ ? "," : "", comm, pids[k], kib);
            total += kib;
        }
        printf("},\"pss_total_kib\":%ld", total);
    }
    printf("}\n");
    fflush(stdout);

    pid_t pids[256];
    int n = descendants(app, pids, 256);
    kill(app, SIGTERM);
    for (int k = 0; k < 40; k++) {
        if (waitpid(app, NULL, WNOHANG) == app) break;
        usleep(50000);
        if (k == 39) { kill(app, SIGKILL); waitpid(app, NULL, 0); }
    }
    usleep(100000);
    for (int k = 1; k < n; k++) kill(pids[k], SIGKILL);
    return ok ? 0 : 1;
}
