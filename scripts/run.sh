#!/usr/bin/env bash
# The README's first command: install what is missing, build ClinicDesk, and open it.
# Usage: scripts/run.sh [--data-dir DIR]   (any arguments are passed to the app)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_toolchains
install_packages "${APP_PACKAGES[@]}"
ensure_ui_packages
build_ui
# The shipped build: Cargo.toml's `dist` profile (release with whole-program LTO, stripped).
say "Building ClinicDesk (the first build takes several minutes)"
(cd "$ROOT" && cargo build --profile dist -p clinicdesk --features custom-protocol)
APP="$ROOT/target/dist/clinicdesk-app"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  fail "No desktop display found. Run this from a desktop session (or under xvfb-run to check it headless)."
fi

secret_service_running() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}

if secret_service_running; then
  say "Starting ClinicDesk"
  exec "$APP" "$@"
fi

# No desktop keyring (a bare X session or a remote shell): keep ClinicDesk's keys in a keyring of
# its own under ~/.local/share/clinicdesk-keyring, so they survive between runs. Its unlock password
# is public (with-keyring.sh), so the keys are not protected: CLINICDESK_TRIAL_KEYRING=1 makes the
# window say so on every screen, so nobody enters real patient data without knowing.
say "No desktop keyring is running; using ClinicDesk's own keyring in ~/.local/share/clinicdesk-keyring"
say "TRIAL MODE: that keyring's password is public. Do not enter real patient data."
KEYRING_HOME="${HOME}/.local/share/clinicdesk-keyring"
mkdir -p "$KEYRING_HOME"
# Resolved here because with-keyring.sh points XDG_DATA_HOME at the keyring.
DATA_DIR="${CLINICDESK_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/org.clinicdesk.app}"
export CLINICDESK_KEYRING_HOME="$KEYRING_HOME" CLINICDESK_DATA_DIR="$DATA_DIR" CLINICDESK_TRIAL_KEYRING=1
exec "$ROOT/scripts/with-keyring.sh" "$APP" "$@"
