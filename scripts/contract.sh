#!/usr/bin/env bash
# Contract tests: start Prism mocks of the official OpenAPI specs of the Twilio APIs the core uses on free loopback
# ports, send the core's real requests to them, stop them. Called by scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SPECS="${CLINICDESK_TWILIO_SPECS:-$ROOT/../shared/twilio-oai}"
[ -d "$SPECS" ] || fail "Twilio's OpenAPI specs are not at $SPECS (set CLINICDESK_TWILIO_SPECS)."
(cd "$ROOT/tests/contract" && npm ci --no-audit --no-fund --loglevel=error)
PRISM="$ROOT/tests/contract/node_modules/.bin/prism"
LOGS="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# OpenAPI 3 says a form body's array field is, by default, the key repeated (style form, explode
# true): how Twilio and its SDKs send AssetVersions, Permission and the like. Prism applies that
# default only when the spec spells it out (stoplightio/prism#2473), so each spec is copied with the
# default written in for every array field of a form body; nothing else changes.
mkdir -p "$LOGS/specs"
python3 - "$SPECS" "$LOGS/specs" <<'PY'
import json, os, sys
source, target = sys.argv[1], sys.argv[2]
for name in os.listdir(source):
    if not name.endswith(".json"):
        continue
    spec = json.load(open(os.path.join(source, name)))
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            form = (operation.get("requestBody", {}) if isinstance(operation, dict) else {}).get("content", {}).get("application/x-www-form-urlencoded")
            if not form:
                continue
            encoding = form.setdefault("encoding", {})
            for field, schema in form.get("schema", {}).get("properties", {}).items():
                if schema.get("type") == "array":
                    encoding.setdefault(field, {"style": "form", "explode": True})
    json.dump(spec, open(os.path.join(target, name), "w"))
PY
start() { # name spec -> sets URL_<name>
  local port; port="$(free_port)"
  "$PRISM" mock -h 127.0.0.1 -p "$port" "$LOGS/specs/$2" >"$LOGS/$1.log" 2>&1 &
  PIDS+=($!)
  printf -v "URL_$1" 'http://127.0.0.1:%s' "$port"
}
start API twilio_api_v2010.json
start VIDEO twilio_video_v1.json
start CONVERSATIONS twilio_conversations_v1.json
start MESSAGING twilio_messaging_v1.json
start SERVERLESS twilio_serverless_v1.json
for name in API VIDEO CONVERSATIONS MESSAGING SERVERLESS; do
  for _ in $(seq 1 120); do grep -q 'Prism is listening' "$LOGS/$name.log" && break; sleep 0.5; done
  grep -q 'Prism is listening' "$LOGS/$name.log" || { cat "$LOGS/$name.log"; fail "Prism did not start for $name"; }
done
say "Contract tests against Prism ($URL_API, $URL_VIDEO, $URL_CONVERSATIONS, $URL_MESSAGING, $URL_SERVERLESS)"
CLINICDESK_PRISM_API_URL="$URL_API" CLINICDESK_PRISM_VIDEO_URL="$URL_VIDEO" CLINICDESK_PRISM_CONVERSATIONS_URL="$URL_CONVERSATIONS" \
  CLINICDESK_PRISM_MESSAGING_URL="$URL_MESSAGING" CLINICDESK_PRISM_SERVERLESS_URL="$URL_SERVERLESS" \
  cargo test -p clinicdesk-core --test contract -- --include-ignored
