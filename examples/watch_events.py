"""Watch your apps' events with NATS directly: every step CRANE takes, as it happens.

    TOKEN=$(curl -s localhost:8000/api/v1/auth/login -H 'Content-Type: application/json' \\
        -d '{"email": "ada@example.com", "password": "..."}' \\
        | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
    python examples/watch_events.py "$TOKEN" [http://localhost:8000] [nats://localhost:4222]

Connect with your API token as the NATS token: NATS asks CRANE (its auth callout) who you are,
and lets you subscribe to your own view of the events (GET /api/v1/users/me says its subject),
which carries your apps' events and nothing of anyone else's. Ctrl-C stops.
"""

import asyncio
import contextlib
import json
import sys

import httpx
import nats


async def main(token: str, api: str, url: str) -> None:
    me = httpx.get(f"{api}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
    nc = await nats.connect(url, token=token)
    subscription = await nc.subscribe(me["events_subject"])
    print(f"watching {me['events_subject']} as {me['email']}", flush=True)
    async for msg in subscription.messages:
        event = json.loads(msg.data)
        app = event.get("subject") or "-"
        print(f"{event['time'][11:19]}  {event['type']:<16} {app:<12} {event['source']}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    api_url = args[1] if len(args) > 1 else "http://localhost:8000"
    nats_url = args[2] if len(args) > 2 else "nats://localhost:4222"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args[0], api_url, nats_url))
