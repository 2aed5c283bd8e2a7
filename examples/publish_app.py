"""Deploy an app by publishing client.app.created straight to NATS, no REST call involved.

    TOKEN=$(curl -s localhost:8000/api/v1/auth/login -H 'Content-Type: application/json' \\
        -d '{"email": "ada@example.com", "password": "..."}' \\
        | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
    python examples/publish_app.py "$TOKEN" crane/hello:local 3 [nats://localhost:4222]

NATS needs credentials: the `client` user, whose password `make up` wrote to
deploy/.secrets/<suite>/client.password (or set CRANE_NATS_PASSWORD). That user may publish only
client.* intents. The API token in the Crane-Token header says who you are: the deployer checks
it, makes you the owner, applies the admission policy, assigns the id (hello-<n>) and deploys;
the app shows in GET /api/v1/apps for you. The envelope needs only `data`.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import nats


def client_password() -> str:
    if os.environ.get("CRANE_NATS_PASSWORD"):
        return os.environ["CRANE_NATS_PASSWORD"]
    suite = os.environ.get("CRANE_SUITE", "crane")
    return (Path(__file__).resolve().parents[1] / "deploy/.secrets" / suite / "client.password").read_text().strip()


async def main(token: str, image: str, replicas: int, url: str) -> None:
    message = {
        "source": "examples/publish_app.py",
        "data": {
            "spec": {
                "name": "hello",
                "replicas": replicas,
                "services": [{"name": "web", "image": image, "ports": ["8080"]}],
            },
        },
    }
    nc = await nats.connect(url, user="client", password=client_password())
    ack = await nc.jetstream().publish(
        "client.app.created", json.dumps(message).encode(), headers={"Crane-Token": token}
    )
    print(f"published client.app.created as message #{ack.seq} of {ack.stream}")
    await nc.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    asyncio.run(
        main(
            args[0],
            args[1],
            int(args[2]) if len(args) > 2 else 1,
            args[3] if len(args) > 3 else "nats://localhost:4222",
        )
    )
