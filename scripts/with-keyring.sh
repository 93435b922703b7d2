#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring (Secret Service), so
# tests and headless runs use the real OS keyring without touching the user's own.
# Usage: scripts/with-keyring.sh COMMAND [ARGS...]
set -euo pipefail
if [ "${CLINICDESK_IN_KEYRING_SESSION:-}" = 1 ]; then exec "$@"; fi
exec dbus-run-session -- bash -c '
  export CLINICDESK_IN_KEYRING_SESSION=1
  # A fresh, throwaway keyring directory per session: tests never see a real user keyring.
  export XDG_DATA_HOME="${CLINICDESK_KEYRING_HOME:-$(mktemp -d)}"
  echo -n "clinicdesk-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@"' bash "$@"
