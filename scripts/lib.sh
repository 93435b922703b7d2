# Shared by run.sh and test.sh: install what a fresh Debian/Ubuntu machine lacks, idempotently.
# shellcheck shell=bash

say() { printf '\033[1;36m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[1;31mclinicdesk: %s\033[0m\n' "$*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Says how much disk the build has and warns when it looks too little: a full build dies halfway with
# "No space left on device", which is slow to recognise in a long log. $1: gigabytes needed.
check_free_disk() {
  local need_gb="$1" free_kb
  free_kb="$(df -Pk "$ROOT" | awk 'NR == 2 { print $4 }')"
  say "Free disk beside the project: $((free_kb / 1024 / 1024)) GB (a full run needs about $need_gb GB)"
  if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
    printf '\033[1;33mclinicdesk: less than %s GB free: the build may stop with "No space left on device". Free some space (an old target/ directory?) if it does.\033[0m\n' "$need_gb" >&2
  fi
}
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# System packages needed to build and run the Tauri app (DESIGN.md's recipe).
APP_PACKAGES=(libwebkit2gtk-4.1-dev build-essential curl wget file libssl-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev pkg-config dbus-x11 gnome-keyring libsecret-1-dev)
# Extra packages for the test suite: a virtual display, the WebKit WebDriver, screenshots, and
# PostgreSQL (the clinic server's tests start throwaway clusters from its binaries).
TEST_PACKAGES=(xvfb xauth webkit2gtk-driver chromium poppler-utils postgresql)
# The window benchmark (scripts/bench-window.sh): benches/window/paintwatch.c's X libraries.
BENCH_PACKAGES=(xvfb xauth libx11-dev libxext-dev libxdamage-dev libxtst-dev postgresql)

install_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq -o DPkg::Lock::Timeout=600
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
}

ensure_toolchains() {
  command -v cargo >/dev/null || fail "Rust is not installed. Install it from https://rustup.rs, then run this again."
  if ! command -v node >/dev/null; then
    install_packages nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || fail "ClinicDesk's UI needs Node.js 20 or newer (found $(node --version)). Install a current Node.js, then run this again."
}

ensure_ui_packages() {
  say "Installing the UI's npm packages"
  (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error)
}

build_ui() {
  say "Building the UI"
  (cd "$ROOT/ui" && npm run --silent build)
}

# Starts the project's fake Twilio (binary built beforehand) on a free loopback port and sets
# FAKE_TWILIO_URL and FAKE_TWILIO_PID. Usage: start_fake_twilio PROFILE   (debug or release)
start_fake_twilio() {
  local url_file
  url_file="$(mktemp)"
  "$ROOT/target/$1/twilio-fake" >"$url_file" &
  FAKE_TWILIO_PID=$!
  for _ in $(seq 1 100); do [ -s "$url_file" ] && break; sleep 0.1; done
  FAKE_TWILIO_URL="$(head -n1 "$url_file")"
  [ -n "$FAKE_TWILIO_URL" ] || fail "the fake Twilio did not start"
}
