#!/usr/bin/env bash
# The README's second command: install what is missing, then run every test — house style (rustfmt,
# clippy), Rust (core, CLI, shell), the generated-types and no-Tauri-in-core checks, UI type-check
# and component tests, and the end-to-end test of the real window. Everything runs against the real OS keyring, inside a
# private D-Bus session with a throwaway unlocked GNOME Keyring.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${CLINICDESK_IN_KEYRING_SESSION:-}" != 1 ]; then
  check_free_disk 8
  ensure_toolchains
  for tool in fmt clippy; do
    if ! cargo "$tool" --version >/dev/null 2>&1; then
      command -v rustup >/dev/null && rustup component add "$([ $tool = fmt ] && echo rustfmt || echo clippy)" >/dev/null 2>&1 || true
      cargo "$tool" --version >/dev/null 2>&1 || fail "cargo $tool is missing: install it with 'rustup component add $([ $tool = fmt ] && echo rustfmt || echo clippy)'."
    fi
  done
  install_packages "${APP_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"
  ensure_ui_packages
  say "Installing the end-to-end test's npm packages"
  (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
  if ! command -v tauri-driver >/dev/null; then
    say "Installing tauri-driver"
    cargo install tauri-driver --locked --version '^2' --quiet
  fi
  exec "$ROOT/scripts/with-keyring.sh" "$0" "$@"
fi

cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
# Keep a copy of everything printed, to add up the test runners' own counts at the end.
RUN_LOG="$(mktemp)"
exec > >(tee "$RUN_LOG") 2>&1

# House style first: it fails in seconds, before the long test runs.
say "House style: cargo fmt --check and cargo clippy -D warnings"
cargo fmt --all -- --check || fail "cargo fmt would change the files listed above: run cargo fmt --all and commit."
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "Rust tests (core, CLI, shell)"
cargo test --workspace --no-fail-fast

say "Checking a running process keeps its keys when the test keyring's daemon exits and comes back"
# Once, in CI, the keyring daemon exited half-way through the run and every later test failed to
# open a database; with-keyring.sh has D-Bus restart it on the same keyring, unlocked, and the core
# reconnects to the new daemon. This test kills the daemon, so it runs alone, after the others.
cargo test -p clinicdesk-core --test keyring_restart -- --ignored

say "Checking the generated TypeScript types match the Rust types"
if git rev-parse --git-dir >/dev/null 2>&1; then
  if ! git diff --exit-code --stat -- ui/src/lib/platform/bindings || [ -n "$(git status --porcelain -- ui/src/lib/platform/bindings)" ]; then
    fail "ui/src/lib/platform/bindings is out of date: run the Rust tests and commit the regenerated files."
  fi
fi

say "Checking the core does not depend on Tauri"
if tree="$(cargo tree -q -p clinicdesk-core -e normal -i tauri 2>&1)"; then
  fail "clinicdesk-core depends on tauri:
$tree"
fi
grep -q 'did not match any packages' <<<"$tree" || fail "cargo tree failed unexpectedly: $tree"

say "Contract: the core's Twilio requests against Prism mocks of Twilio's official specs"
"$ROOT/scripts/contract.sh"

say "UI: type-check and component tests"
(cd ui && npm run --silent check && npm test --silent)

say "UI: call and chat components in Chromium"
"$ROOT/scripts/test-call-components.sh"

say "End to end: the real window under Xvfb"
build_ui
cargo build -p clinicdesk --features custom-protocol
cargo build -p clinicdesk-cli -p clinicdesk-twilio-fake
# A throwaway clinic server (PostgreSQL + clinicdesk-server) for the two-desk window test.
cargo build -p clinicdesk-server --example e2e_clinic
DISPLAY_NUMBER=$((90 + RANDOM % 100))
Xvfb ":$DISPLAY_NUMBER" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
# The app talks to the project's fake Twilio on a loopback port for the whole run.
start_fake_twilio debug
trap 'kill $XVFB_PID $FAKE_TWILIO_PID 2>/dev/null || true' EXIT
export CLINICDESK_TWILIO_API_URL="$FAKE_TWILIO_URL" CLINICDESK_TWILIO_VIDEO_URL="$FAKE_TWILIO_URL" CLINICDESK_TWILIO_CONVERSATIONS_URL="$FAKE_TWILIO_URL" CLINICDESK_TWILIO_MESSAGING_URL="$FAKE_TWILIO_URL" \
  CLINICDESK_TWILIO_SERVERLESS_URL="$FAKE_TWILIO_URL" CLINICDESK_TWILIO_SERVERLESS_UPLOAD_URL="$FAKE_TWILIO_URL" \
  CLINICDESK_TWILIO_MEDIA_URL="$FAKE_TWILIO_URL"
export CLINICDESK_CLI_BINARY="$ROOT/target/debug/clinicdesk"
export DISPLAY=":$DISPLAY_NUMBER"
export CLINICDESK_APP_BINARY="$ROOT/target/debug/clinicdesk-app"
export CLINICDESK_E2E_SERVER="$ROOT/target/debug/examples/e2e_clinic"
# GTK's portal and accessibility chatter is noise here; test failures still print in full.
(cd tests/e2e && npm test --silent 2> >(grep -vE 'dbus-daemon|portal|Gtk-WARNING|pw\.conf|No skeleton|PipeWire|RealtimeKit|max threads|^$' >&2))
say "Screenshots of every main screen: tests/artifacts/"

# Figures, not tests: printed so every CI run records them; targets are reported, never asserted.
say "Benchmarks (see BENCHMARKS.md)"
# The clinic-scale section runs on a tenth of the clinic here; `scripts/bench.sh` alone runs it in full.
env -u CLINICDESK_TWILIO_API_URL -u CLINICDESK_TWILIO_VIDEO_URL -u CLINICDESK_TWILIO_CONVERSATIONS_URL -u CLINICDESK_TWILIO_MESSAGING_URL -u CLINICDESK_TWILIO_SERVERLESS_URL -u CLINICDESK_TWILIO_SERVERLESS_UPLOAD_URL -u CLINICDESK_TWILIO_MEDIA_URL \
  CLINICDESK_BENCH_CLINIC_SCALE="${CLINICDESK_BENCH_CLINIC_SCALE:-0.1}" \
  CLINICDESK_BENCH_WINDOW_APP="${CLINICDESK_BENCH_WINDOW_APP:-$ROOT/target/debug/clinicdesk-app}" \
  CLINICDESK_BENCH_WINDOW_RUNS="${CLINICDESK_BENCH_WINDOW_RUNS:-2}" CLINICDESK_BENCH_WINDOW_IDLE="${CLINICDESK_BENCH_WINDOW_IDLE:-5}" \
  "$ROOT/scripts/bench.sh"

# One closing line over every runner: cargo's "test result", Vitest's "Tests", node's "# pass/# fail".
sleep 0.2
python3 - "$RUN_LOG" <<'PY'
import re, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1], errors="replace").read())
passed = failed = 0
for p, f in re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", text):
    passed += int(p); failed += int(f)
for line in re.findall(r"^\s*Tests\s+(.*)$", text, re.M):
    m = re.search(r"(\d+) passed", line); passed += int(m.group(1)) if m else 0
    m = re.search(r"(\d+) failed", line); failed += int(m.group(1)) if m else 0
passed += sum(int(n) for n in re.findall(r"^# pass (\d+)$", text, re.M))
failed += sum(int(n) for n in re.findall(r"^# fail (\d+)$", text, re.M))
print(f"total: {passed} passed, {failed} failed")
PY
