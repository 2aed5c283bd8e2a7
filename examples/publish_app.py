"""Deploy an app by publishing app.created straight to NATS, no REST involved.

    python examples/publish_app.py ada@example.com crane/hello:local 3 [nats://localhost:4222]

The deployer assigns the id (hello-<n>), deploys the app and it shows in GET /api/v1/apps for
the owner. The envelope needs only `data`; CRANE fills in id, time and source.
"""

import asyncio
import json
import sys

import nats


async def main(owner: str, image: str, replicas: int, url: str) -> None:
    message = {
        "type": "app.created",
        "source": "examples/publish_app.py",
        "data": {
            "owner": owner,
            "spec": {
                "name": "hello",
                "replicas": replicas,
                "services": [{"name": "web", "image": image, "ports": ["8080"]}],
            },
        },
    }
    nc = await nats.connect(url)
    ack = await nc.jetstream().publish("app.created", json.dumps(message).encode())
    print(f"published app.created as stream message #{ack.seq}")
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
