#!/usr/bin/env bash
# Benchmarks (figures, not tests). Prints one run's figures and the ratios to the targets:
# tokens at least 20x the official Python library; the durable outbox at least 5x the Python
# library's plain sequential sending. Record the output in BENCHMARKS.md.
# Usage: scripts/bench.sh            (CLINICDESK_BENCH_SCALE=N multiplies every count)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ "${CLINICDESK_IN_KEYRING_SESSION:-}" != 1 ]; then
  install_packages "${APP_PACKAGES[@]}"
  exec "$ROOT/scripts/with-keyring.sh" "$0" "$@"
fi
cd "$ROOT"
say "Building the benchmark and the fake Twilio (release)"
cargo build --release -q -p clinicdesk-bench -p clinicdesk-twilio-fake
VENV="$ROOT/target/bench-venv"
python3 -m venv --help >/dev/null 2>&1 || install_packages python3-venv
if [ ! -x "$VENV/bin/python" ]; then
  say "Making a Python venv with the official twilio library"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check twilio
fi
start_fake_twilio release
trap 'kill $FAKE_TWILIO_PID 2>/dev/null || true' EXIT
URL="$FAKE_TWILIO_URL"
RESULTS="$(mktemp)"
say "Python (twilio $("$VENV/bin/python" -c 'import twilio; print(twilio.__version__)'))"
"$VENV/bin/python" benches/python/bench_twilio.py "$URL" | tee -a "$RESULTS"
say "Rust (clinicdesk-core)"
CLINICDESK_BENCH_FAKE_URL="$URL" "$ROOT/target/release/clinicdesk-bench" | tee -a "$RESULTS"
python3 - "$RESULTS" <<'PY'
import json, sys
r = {j["bench"]: j for j in map(json.loads, open(sys.argv[1]))}
rate = lambda k: r[k]["per_second"]
print()
print(f"{'figure':<34}{'per second':>14}")
for k in ["rust_tokens", "python_tokens", "fake_ceiling", "rust_plain_sequential_send", "python_sequential_send", "rust_outbox_sequential", "rust_outbox_concurrent"]:
    print(f"{k:<34}{rate(k):>14,.0f}")
t = rate("rust_tokens") / rate("python_tokens")
s = rate("rust_outbox_sequential") / rate("python_sequential_send")
c = rate("rust_outbox_concurrent") / rate("python_sequential_send")
print()
print(f"tokens: {t:.1f}x the Python library (target 20x: {'met' if t >= 20 else 'MISSED'})")
print(f"durable outbox, sequential: {s:.1f}x Python's plain sequential sending (target 5x: {'met' if s >= 5 else 'MISSED'})")
print(f"durable outbox, concurrent: {c:.1f}x Python's plain sequential sending (target 5x: {'met' if c >= 5 else 'MISSED'})")
PY
