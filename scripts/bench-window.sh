#!/usr/bin/env bash
# Figures for the real window under Xvfb (never asserted): launch to first frame, to the first
# non-blank frame and to the painted sign-in form; sign-in to the painted day view with this clinic;
# Alt+3 on it to the painted Consultations screen; the first launch with a fresh webview profile; and the memory (PSS) of the app and each of its
# WebKit processes after 15 s idle. Prints JSON lines {"bench":"window_...", ...}.
#
# Usage: scripts/bench-window.sh APP [DATA_DIR [EMAIL PASSWORD]]
#   APP       the built clinicdesk-app (release, custom-protocol)
#   DATA_DIR  a set-up clinic whose database key is in this session's keyring; without it, a sample
#             clinic is made with the CLI found next to APP (clinicdesk init + demo).
#   EMAIL PASSWORD (or CLINICDESK_BENCH_EMAIL / CLINICDESK_BENCH_PASSWORD) a member of staff, for
#             the sign-in figures; without them those are skipped.
#   CLINICDESK_BENCH_WINDOW_RUNS=N   warm launches (default 5; CI can use 2)
#   CLINICDESK_BENCH_WINDOW_IDLE=S   idle seconds before reading PSS (default 15)
#   CLINICDESK_BENCH_WINDOW_SHOTS=DIR  keep the screens it saw as PNG (default target/bench-window/shots)
#
# Method: benches/window/paintwatch.c launches the app and watches the X server's own framebuffer
# (DAMAGE events on the root window, a MIT-SHM grab of the screen after each), so the app runs
# unmodified and unobserved from inside; "painted" means the first grab equal to the screen once it
# has been still for a second. Sign-in is typed through XTEST. PSS comes from /proc/PID/smaps_rollup
# of the app and all its descendants. Every launch gets its own throwaway XDG dirs (webview profile,
# caches): the warm launches share one that a first launch filled; the fresh ones start empty.
# Runs in about a minute and a half with the defaults.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ "${CLINICDESK_IN_KEYRING_SESSION:-}" != 1 ]; then
  exec "$ROOT/scripts/with-keyring.sh" "$0" "$@"
fi
APP="$(realpath "${1:?usage: scripts/bench-window.sh APP [DATA_DIR [EMAIL PASSWORD]]}")"
DATA_DIR="${2:-}"
EMAIL="${3:-${CLINICDESK_BENCH_EMAIL:-}}"
PASSWORD="${4:-${CLINICDESK_BENCH_PASSWORD:-}}"
RUNS="${CLINICDESK_BENCH_WINDOW_RUNS:-5}"
IDLE="${CLINICDESK_BENCH_WINDOW_IDLE:-15}"
OUT="$ROOT/target/bench-window"
SHOTS="${CLINICDESK_BENCH_WINDOW_SHOTS:-$OUT/shots}"
mkdir -p "$OUT" "$SHOTS"
WORK="$(mktemp -d)"

WATCH="$OUT/paintwatch"
if [ ! -x "$WATCH" ] || [ "$ROOT/benches/window/paintwatch.c" -nt "$WATCH" ]; then
  cc -O2 -o "$WATCH" "$ROOT/benches/window/paintwatch.c" -lX11 -lXext -lXdamage -lXtst \
    || fail "cannot build benches/window/paintwatch.c (needs libx11-dev libxext-dev libxdamage-dev libxtst-dev)"
fi

if [ -z "$DATA_DIR" ]; then
  CLI="$(dirname "$APP")/clinicdesk"
  [ -x "$CLI" ] || fail "no DATA_DIR given and no CLI at $CLI to make a sample clinic"
  DATA_DIR="$WORK/clinic"
  EMAIL="bench@clinic.example" PASSWORD="bench window password"
  CLINICDESK_NEW_PASSWORD="$PASSWORD" CLINICDESK_PASSWORD="$PASSWORD" \
    "$CLI" --data-dir "$DATA_DIR" init --admin-email "$EMAIL" --clinic-name "Bench Clinic" --time-zone Europe/London >/dev/null
  CLINICDESK_PASSWORD="$PASSWORD" "$CLI" --data-dir "$DATA_DIR" --as "$EMAIL" demo-seed >/dev/null
fi

DISPLAY_NUMBER=$((200 + RANDOM % 100))
# -br: a black root, so an unpainted screen is uniform; the size holds the 1280x820 window.
Xvfb ":$DISPLAY_NUMBER" -screen 0 1400x900x24 -br -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
trap 'kill $XVFB_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$DISPLAY_NUMBER" ] && break; sleep 0.05; done
export DISPLAY=":$DISPLAY_NUMBER"
unset WAYLAND_DISPLAY

# One launch: paintwatch's JSON on stdout. Usage: launch XDG_HOME DATA_DIR SHOT_NAME [paintwatch options]
launch() {
  local home="$1" data="$2" shot="$3"
  shift 3
  mkdir -p "$home/cache" "$home/data" "$home/config/gtk-3.0"
  # A blinking caret would keep the screen from ever being still; nothing else changes with it.
  printf '[Settings]\ngtk-cursor-blink = false\n' >"$home/config/gtk-3.0/settings.ini"
  XDG_CACHE_HOME="$home/cache" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" \
    "$WATCH" --shot "$WORK/$shot" "$@" -- "$APP" --data-dir "$data" 2>/dev/null
  for f in "$WORK/$shot"-*.ppm; do
    [ -e "$f" ] || continue
    # PNG with ImageMagick where it is installed; the raw PPM otherwise (any image viewer opens it).
    if command -v convert >/dev/null && convert -version >/dev/null 2>&1; then
      convert "$f" "$SHOTS/$(basename "${f%.ppm}").png" && rm -f "$f"
    else
      mv "$f" "$SHOTS/"
    fi
  done
}

RESULTS="$WORK/results"
: >"$RESULTS"
record() { printf '%s %s\n' "$1" "$2" >>"$RESULTS"; }

# The first launch after installation: an empty profile, no caches, a data folder with no clinic
# (the key is made, the database created and migrated, the setup form drawn).
record first_launch "$(launch "$WORK/fresh-install" "$WORK/fresh-data" first-launch)"
# A fresh webview profile and caches, with this clinic (the sign-in form).
record fresh_profile "$(launch "$WORK/fresh-profile" "$DATA_DIR" fresh-profile)"
# The warm runs share a profile filled by one launch that is not counted.
launch "$WORK/warm" "$DATA_DIR" warm-up >/dev/null
SIGN_IN=()
[ -n "$EMAIL" ] && [ -n "$PASSWORD" ] && SIGN_IN=(--sign-in "$EMAIL" "$PASSWORD")
THEN=()
# Then Alt+3: the Consultations screen (issue 11), its first page of past consultations painted.
[ ${#SIGN_IN[@]} -gt 0 ] && THEN=(--then-alt 3)
for i in $(seq 1 "$RUNS"); do
  record warm "$(launch "$WORK/warm" "$DATA_DIR" "warm-$i" "${SIGN_IN[@]}" "${THEN[@]}")"
done
record idle_sign_in "$(launch "$WORK/warm" "$DATA_DIR" idle-sign-in --idle-pss "$IDLE")"
if [ ${#SIGN_IN[@]} -gt 0 ]; then
  record idle_day_view "$(launch "$WORK/warm" "$DATA_DIR" idle-day-view "${SIGN_IN[@]}" --idle-pss "$IDLE")"
fi

record binary "{\"bytes\":$(stat -c %s "$APP")}"

python3 - "$RESULTS" "$RUNS" <<'PY'
import json, re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kind, _, text = line.partition(" ")
    try:
        runs.setdefault(kind, []).append(json.loads(text))
    except ValueError:
        runs.setdefault(kind, []).append({"error": text.strip() or "no output"})
def emit(**fields):
    print(json.dumps(fields))
def summary(name, kind, key, note):
    values = [r[key] for r in runs.get(kind, []) if key in r]
    if values:
        emit(bench=name, p50=round(statistics.median(values), 1), max=round(max(values), 1), runs=len(values), note=note)
for r in runs.get("binary", []):
    emit(bench="window_app_binary_bytes", bytes=r["bytes"], note="size of the app binary measured")
summary("window_first_frame_ms", "warm", "first_frame_ms", "launch to the window's first frame (blank)")
summary("window_first_nonblank_ms", "warm", "first_nonblank_ms", "launch to the first frame with anything drawn")
summary("window_first_paint_ms", "warm", "useful_paint_ms", "launch to the sign-in form painted (first useful paint)")
summary("window_sign_in_to_day_view_ms", "warm", "sign_in_to_view_ms", "Return on the sign-in form to the day view painted")
summary("window_day_view_to_consultations_ms", "warm", "then_to_view_ms", "Alt+3 on the day view to the Consultations screen painted (its first page of past consultations)")
for kind, name, note in [("first_launch", "window_first_launch_ms", "fresh webview profile and caches, new data folder: launch to the setup form painted"),
                         ("fresh_profile", "window_fresh_profile_ms", "fresh webview profile and caches, this clinic: launch to the sign-in form painted")]:
    for r in runs.get(kind, []):
        emit(bench=name, ms=r.get("useful_paint_ms"), first_nonblank_ms=r.get("first_nonblank_ms"), note=note, **({"error": r["error"]} if "error" in r else {}))
for kind, screen in [("idle_sign_in", "sign_in"), ("idle_day_view", "day_view")]:
    for r in runs.get(kind, []):
        if "pss_kib" not in r:
            emit(bench="window_idle_pss_mib", screen=screen, error=r.get("error", "no PSS")); continue
        per = {}
        for key, kib in r["pss_kib"].items():
            name = re.sub(r":\d+$", "", key)
            per[name] = round(per.get(name, 0) + kib / 1024, 1)
        emit(bench="window_idle_pss_mib", screen=screen, total=round(r["pss_total_kib"] / 1024, 1), processes=per)
for kind, rs in runs.items():
    for r in rs:
        if "error" in r or "sign_in_error" in r or "then_error" in r:
            print(f"bench-window: a {kind} launch reported {r.get('error') or r.get('sign_in_error') or r.get('then_error')}", file=sys.stderr)
PY
echo "bench-window: screens seen are in $SHOTS" >&2
