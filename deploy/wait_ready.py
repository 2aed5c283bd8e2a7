"""Wait until a URL answers 200, printing progress; used by `make up`."""

import sys
import time

import httpx

url = sys.argv[1]
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 120
deadline = time.monotonic() + timeout
print(f"==> waiting for {url}", end="", flush=True)
while time.monotonic() < deadline:
    try:
        if httpx.get(url, timeout=2).status_code == 200:
            print(" ready")
            sys.exit(0)
    except httpx.HTTPError:
        pass
    print(".", end="", flush=True)
    time.sleep(1)
print(f"\n{url} did not answer within {timeout:.0f}s; see `make logs`", file=sys.stderr)
sys.exit(1)
