"""The official `twilio` Python library on the same jobs, for comparison with clinicdesk-bench.

Mints Access Tokens with grants identical to TWILIO.md's test vector, and sends texts one after
another with `client.messages.create` against the same fake Twilio. Prints JSON lines.
"""
import json
import os
import sys
import time

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant, VideoGrant
from twilio.rest import Client

ACCOUNT = "AC00000000000000000000000000000000"
KEY = "SK11111111111111111111111111111111"
SECRET = "test-api-key-secret-0123456789abcdef"
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"


def report(name, count, seconds, **detail):
    print(json.dumps({"bench": name, "count": count, "seconds": seconds, "per_second": count / seconds, "detail": detail}), flush=True)


def tokens(count):
    started = time.perf_counter()
    for _ in range(count):
        token = AccessToken(ACCOUNT, KEY, SECRET, identity="dr.smith", ttl=3600)
        token.add_grant(VideoGrant(room="appt-42"))
        token.add_grant(ChatGrant(service_sid="IS22222222222222222222222222222222"))
        token.to_jwt()
    report("python_tokens", count, time.perf_counter() - started)


def sequential_sends(url, count):
    client = Client(ACCOUNT, AUTH_TOKEN)
    client.api.base_url = url
    started = time.perf_counter()
    for i in range(count):
        client.messages.create(to="+447400200001", from_="+15005550006", body=f"Python sequential {i}")
    report("python_sequential_send", count, time.perf_counter() - started)


if __name__ == "__main__":
    url = sys.argv[1]
    scale = int(os.environ.get("CLINICDESK_BENCH_SCALE", "1"))
    tokens(20_000 * scale)
    sequential_sends(url, 1_000 * scale)
