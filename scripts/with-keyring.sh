#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring (Secret Service), so
# tests and headless runs use the real OS keyring without touching the user's own.
# Usage: scripts/with-keyring.sh COMMAND [ARGS...]
#
# If the keyring daemon exits during a long run (it has, once in a CI run, half-way through the
# tests), D-Bus starts the Secret Service again on the next request. Left to the system's service
# file, that new daemon would open a locked keyring elsewhere and every later test would fail; the
# service file written here makes D-Bus restart it on the same keyring folder, unlocked.
set -euo pipefail
if [ "${CLINICDESK_IN_KEYRING_SESSION:-}" = 1 ]; then exec "$@"; fi
# A fresh, throwaway keyring directory per session: tests never see a real user keyring.
export XDG_DATA_HOME="${CLINICDESK_KEYRING_HOME:-$(mktemp -d)}"
mkdir -p "$XDG_DATA_HOME/dbus-1/services"
cat >"$XDG_DATA_HOME/start-keyring.sh" <<'SH'
#!/bin/sh
echo -n "clinicdesk-test" | exec gnome-keyring-daemon --unlock --foreground --components=secrets
SH
chmod +x "$XDG_DATA_HOME/start-keyring.sh"
printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s\n' "$XDG_DATA_HOME/start-keyring.sh" \
  >"$XDG_DATA_HOME/dbus-1/services/org.freedesktop.secrets.service"
exec dbus-run-session -- bash -c '
  export CLINICDESK_IN_KEYRING_SESSION=1
  echo -n "clinicdesk-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@"' bash "$@"
