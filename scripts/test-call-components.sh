#!/usr/bin/env bash
# The call and chat components (ui/src/lib/call/) in a real Chromium: Debian's chromium with its fake
# camera and microphone, driven by playwright-core, the Twilio SDKs replaced by the seam's test doubles.
# Specs in tests/components/specs/ (node --test, TAP output); screenshots in tests/artifacts/call-components-*.png.
# Needs ui/node_modules (scripts/test.sh installs it first; installed here when missing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  install_packages chromium
  [ -x "$CHROMIUM" ] || fail "Chromium is not at $CHROMIUM after installing Debian's chromium package."
fi
export CHROMIUM

[ -d "$ROOT/ui/node_modules/vite" ] || ensure_ui_packages

# npm ci when node_modules is missing or was installed from another package-lock.json.
cd "$ROOT/tests/components"
stamp=node_modules/.clinicdesk-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "Installing the component tests' npm packages (playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# call-page-size.test.mjs measures the production build of the call page: build it from this tree.
(cd "$ROOT/ui" && npm run --silent build >/dev/null)

say "Call and chat components in Chromium ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
node --test --test-reporter=tap --test-concurrency=1 specs/
