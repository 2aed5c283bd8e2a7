"""The Docker Engine backend of the runtime seam (runtime.py), over the Engine API (docker SDK).
Blocking SDK calls run in threads; Engine errors are translated into EngineError with a message
a user can act on."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import IPAMConfig, IPAMPool

from .addressing import PoolExhausted, free_subnet, gateway, subnet_count
from .container_spec import ReplicaSpec
from .mounted_files import COMPLETE_MARKER
from .naming import (
    BUILD_REPOSITORY,
    LABEL_APP,
    LABEL_FILES_HOLDER,
    LABEL_OWNER,
    LABEL_REPLICA,
    LABEL_SERVICE,
    LABEL_SPEC_HASH,
    LABEL_SUITE,
    Naming,
)
from .plan import Replica
from .runtime import EngineError

log = logging.getLogger("crane.deployer.engine")


def _claimed_by_the_app(name: str, volume: dict[str, Any], labels: dict[str, str]) -> None:
    owner = (volume.get("Labels") or {}).get(LABEL_APP)
    if owner != labels[LABEL_APP]:
        held_by = f"the app {owner}" if owner else "something outside this suite's apps"
        raise EngineError(f"the volume {name} belongs to {held_by}; CRANE never gives it to another app")


def _explain(exc: Exception) -> str:
    if isinstance(exc, APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)


PULL_RETRY_SECONDS = 60.0


NETWORK_ATTEMPTS = 10
# Engine calls in flight at once (each holds a thread and a connection until the Engine
# answers): asyncio's default pool would allow cores + 4, and a burst of apps waits on it.
ENGINE_CALLS = 32
EXIT_CODE = re.compile(r"^Exited \((-?\d+)\)")
HOLDER_MOUNT = "/holder"


@dataclass(frozen=True)
class SuiteState:
    """What a resync looks at: each app's replicas, the apps owning networks, the router."""

    replicas: dict[str, list[Replica]]
    with_networks: set[str]
    router: str | None


@dataclass(frozen=True)
class Addressing:
    """Where CRANE's networks get their subnets, and the router that joins routed apps' networks."""

    pool: str = "10.203.0.0/16"
    prefix: int = 25
    router_container: str | None = None


class Engine:
    def __init__(self, client: docker.DockerClient, naming: Naming, addresses: Addressing | None = None) -> None:
        self.client = client
        self.api = client.api
        self.naming = naming
        self.addresses = addresses or Addressing()
        self._networks_lock = asyncio.Lock()  # picking a subnet
        self._creating: set[str] = set()  # subnets picked for networks being created now
        self._threads = ThreadPoolExecutor(ENGINE_CALLS, thread_name_prefix="engine")
        self._files_lock = asyncio.Lock()
        # image -> (when a pull failed, why): a missing image is not pulled again on every
        # reconcile, so many failed apps cannot starve the others of the Engine.
        self._failed_pulls: dict[str, tuple[float, str]] = {}

    @classmethod
    def from_env(cls, naming: Naming, addresses: Addressing | None = None) -> Engine:
        return cls(docker.from_env(timeout=120, max_pool_size=ENGINE_CALLS), naming, addresses)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn`` (a blocking Docker SDK call) on the Engine's own threads, in this context."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    # --- observing -------------------------------------------------------------------------
    async def observe(self, app_id: str) -> list[Replica]:
        rows = await self._call(self.api.containers, all=True, filters=self.naming.app_filter(app_id))
        return [self._replica(row) for row in rows if LABEL_FILES_HOLDER not in (row.get("Labels") or {})]

    async def suite_state(self) -> SuiteState:
        """Every app's replicas, and the apps owning a network, in two calls whatever the
        number of apps; and the router container's id (None: no router, or not found)."""
        filters = self.naming.suite_filter()
        rows = await self._call(self.api.containers, all=True, filters=filters)
        networks = await self._call(self.api.networks, filters=filters)
        replicas: dict[str, list[Replica]] = {}
        for row in rows:
            labels = row.get("Labels") or {}
            if labels.get(LABEL_APP) and LABEL_FILES_HOLDER not in labels:
                replicas.setdefault(labels[LABEL_APP], []).append(self._replica(row))
        with_networks = {(net.get("Labels") or {}).get(LABEL_APP) for net in networks} - {None}
        router = None
        if self.addresses.router_container:
            with contextlib.suppress(NotFound, APIError):
                router = (await self._call(self.api.inspect_container, self.addresses.router_container))["Id"]
        return SuiteState(replicas, {str(app) for app in with_networks}, router)

    @staticmethod
    def _replica(row: dict[str, Any]) -> Replica:
        labels = row.get("Labels") or {}
        status = row.get("Status", "")
        health = None
        if "(healthy)" in status:
            health = "healthy"
        elif "(unhealthy)" in status:
            health = "unhealthy"
        elif "(health: starting)" in status:
            health = "starting"
        exited = EXIT_CODE.search(status)
        return Replica(
            exit_code=int(exited.group(1)) if exited else None,
            container_id=row["Id"],
            name=row["Names"][0].lstrip("/"),
            service=labels.get(LABEL_SERVICE, ""),
            index=int(labels.get(LABEL_REPLICA, "-1")),
            spec_hash=labels.get(LABEL_SPEC_HASH, ""),
            state=row.get("State", "unknown"),
            health=health,
        )

    # --- networks --------------------------------------------------------------------------
    async def ensure_network(self, name: str, labels: dict[str, str], internal: bool = False) -> None:
        """A bridge network of the app's own, on a subnet of CRANE's address pool (``internal``:
        with no way out of the machine). Subnets are picked one at a time (never one another
        create holds), and the networks are created side by side."""
        existing = await self._call(self.api.networks, names=[name])
        if any(n["Name"] == name for n in existing):
            return
        for attempt in range(NETWORK_ATTEMPTS):
            async with self._networks_lock:
                rows = await self._call(self.api.networks)
                if any(n["Name"] == name for n in rows):
                    return
                used = [c["Subnet"] for n in rows for c in (n.get("IPAM") or {}).get("Config") or [] if c.get("Subnet")]
                try:
                    # First fit; after a lost race (another suite or Engine user took it), anywhere.
                    start = random.randrange(subnet_count(self.addresses.pool, self.addresses.prefix)) if attempt else 0
                    subnet = free_subnet(self.addresses.pool, self.addresses.prefix, [*used, *self._creating], start)
                except PoolExhausted as exc:
                    raise EngineError(f"cannot create network {name}: {exc}") from exc
                self._creating.add(subnet)
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway(subnet))])
            try:
                await self._call(
                    self.api.create_network,
                    name,
                    driver="bridge",
                    labels=labels,
                    ipam=ipam,
                    internal=internal,
                    check_duplicate=True,
                )
                return
            except APIError as exc:
                if exc.status_code == 409:
                    return
                if "overlap" not in _explain(exc).lower():  # else another engine user took it: next
                    raise EngineError(f"cannot create network {name}: {_explain(exc)}") from exc
            finally:
                self._creating.discard(subnet)  # (created, it is in the Engine's list from now on)
        raise EngineError(f"cannot create network {name}: every free subnet was taken meanwhile")

    async def attach_router(self, network: str) -> None:
        """Join the router's container (if CRANE runs one) to ``network``, once."""
        router = self.addresses.router_container
        if not router:
            return
        try:
            info = await self._call(self.api.inspect_network, network)
            if any(c.get("Name") == router for c in (info.get("Containers") or {}).values()):
                return
            await self._call(self.api.connect_container_to_network, router, network)
        except NotFound as exc:
            raise EngineError(f"cannot route {network}: the router container {router} is missing") from exc
        except APIError as exc:
            if exc.status_code not in (403, 409) or "already exists" not in _explain(exc):
                raise EngineError(f"cannot route {network}: {_explain(exc)}") from exc

    async def _remove_network(self, network_id: str) -> None:
        """Remove a network, first detaching what is still on it (the router)."""
        with contextlib.suppress(NotFound):
            info = await self._call(self.api.inspect_network, network_id)
            for container in info.get("Containers") or {}:
                with contextlib.suppress(APIError):
                    await self._call(self.api.disconnect_container_from_network, container, network_id, force=True)
            await self._call(self.api.remove_network, network_id)

    # --- containers ------------------------------------------------------------------------
    async def create_and_start(self, spec: ReplicaSpec) -> str:
        """Create and start one replica; an existing container of that name is reused."""
        try:
            container_id = await self._call(self._create, spec)
        except ImageNotFound:
            await self._pull(spec.image)
            container_id = await self._call(self._create, spec)
        except APIError as exc:
            if exc.status_code == 409:  # the slot's name is taken: a replica exists already
                container_id = (await self._call(self.api.inspect_container, spec.name))["Id"]
            else:
                raise EngineError(f"cannot create {spec.name}: {_explain(exc)}") from exc
        await self.start(container_id, spec.name, spec.links)
        return str(container_id)

    def _create(self, spec: ReplicaSpec) -> str:
        host_config = self.api.create_host_config(
            binds=spec.volumes or None,
            nano_cpus=spec.nano_cpus,
            mem_limit=spec.mem_limit,
            pids_limit=spec.pids_limit,
            security_opt=spec.security_opt,
            cap_drop=spec.cap_drop,
            cap_add=spec.cap_add or None,
            privileged=spec.privileged,
            pid_mode=spec.pid_mode,
            ipc_mode=spec.ipc_mode,
            network_mode="host" if spec.host_network else spec.network,
            init=spec.init,
            read_only=spec.read_only,
            tmpfs=spec.tmpfs or None,
        )
        networking = (
            None
            if spec.host_network
            else self.api.create_networking_config(
                {spec.network: self.api.create_endpoint_config(aliases=spec.aliases)}
            )
        )
        created = self.api.create_container(
            spec.image,
            command=spec.command,
            name=spec.name,
            environment=spec.environment,
            labels=spec.labels,
            host_config=host_config,
            networking_config=networking,
            healthcheck=spec.healthcheck,
            entrypoint=spec.entrypoint,
            user=spec.user,
            working_dir=spec.working_dir,
            hostname=spec.hostname,
            stop_signal=spec.stop_signal,
            stop_timeout=spec.stop_timeout,
            detach=True,
        )
        for network, aliases in [] if spec.host_network else spec.extra_networks:
            self.api.connect_container_to_network(created["Id"], network, aliases=aliases)
        return str(created["Id"])

    async def has_image(self, image: str) -> bool:
        try:
            await self._call(self.api.inspect_image, image)
        except ImageNotFound:
            return False
        except APIError as exc:
            raise EngineError(f"cannot inspect image {image}: {_explain(exc)}") from exc
        return True

    async def _inspect_image(self, image: str) -> dict[str, Any]:
        """A local image's inspection, pulled first if it is missing."""
        try:
            return dict(await self._call(self.api.inspect_image, image))
        except ImageNotFound:
            await self._pull(image)
        except APIError as exc:
            raise EngineError(f"cannot inspect image {image}: {_explain(exc)}") from exc
        return dict(await self._call(self.api.inspect_image, image))

    async def image_digest(self, image: str) -> str:
        """The id (sha256 of the content) of a local image, pulled first if it is missing."""
        return str((await self._inspect_image(image))["Id"])

    async def image_labels(self, image: str) -> dict[str, str]:
        """The labels an image gives every container made from it (its base images' included)."""
        return dict((await self._inspect_image(image)).get("Config", {}).get("Labels") or {})

    async def _pull(self, image: str) -> None:
        failed = self._failed_pulls.get(image)
        if failed and time.monotonic() - failed[0] < PULL_RETRY_SECONDS:
            raise EngineError(failed[1])
        log.info("pulling %s", image)
        try:
            await self._call(self.client.images.pull, image)
        except DockerException as exc:
            reason = f"image {image} not found locally and could not be pulled: {_explain(exc)}"
            self._failed_pulls[image] = (time.monotonic(), reason)
            raise EngineError(reason) from exc
        self._failed_pulls.pop(image, None)

    async def built_image_bytes(self, owner: str) -> int:
        """What the images CRANE built for ``owner``'s apps take (each image's own size)."""
        filters = {"label": [f"{LABEL_SUITE}={self.naming.suite}", f"{LABEL_OWNER}={owner}"]}
        try:
            images = await self._call(self.api.images, filters=filters)
        except APIError as exc:
            raise EngineError(f"cannot list images: {_explain(exc)}") from exc
        return sum(
            int(i.get("Size") or 0)
            for i in images
            if any(t.startswith(BUILD_REPOSITORY) for t in i.get("RepoTags") or [])
        )

    async def start(self, container_id: str, name: str, links: bytes | None = None) -> None:
        """Start a replica; ``links`` (a tar of links to its files) is unpacked first."""
        try:
            if links and (await self._call(self.api.inspect_container, container_id))["State"]["Status"] == "created":
                await self._call(self.api.put_archive, container_id, "/", links)
            await self._call(self.api.start, container_id)
        except APIError as exc:
            raise EngineError(f"cannot start {name}: {_explain(exc)}") from exc

    async def host_binds(self, container_id: str) -> list[str]:
        """The host folders and files a container bind-mounts (as its creation named them)."""
        try:
            mounts = (await self._call(self.api.inspect_container, container_id)).get("Mounts") or []
        except NotFound:
            return []
        return [str(m["Source"]) for m in mounts if m.get("Type") == "bind"]

    async def kill(self, container_id: str) -> None:
        """Kill a replica at once (SIGKILL), as a crash would end it."""
        try:
            await self._call(self.api.kill, container_id)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # 409: it is not running any more
                raise EngineError(f"cannot kill container {container_id[:12]}: {_explain(exc)}") from exc

    async def remove(self, container_id: str) -> None:
        try:
            await self._call(self.api.remove_container, container_id, force=True, v=False)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise EngineError(f"cannot remove container {container_id[:12]}: {_explain(exc)}") from exc

    async def remove_app(self, app_id: str) -> None:
        """Remove every container, network and volume of the app (only objects with its labels)."""
        filters = self.naming.app_filter(app_id)
        for row in await self._call(self.api.containers, all=True, filters=filters):
            await self.remove(row["Id"])
        for net in await self._call(self.api.networks, filters=filters):
            await self._remove_network(net["Id"])
        # Images CRANE built for the app: its labels and CRANE's build repository, never another image.
        for image in await self._call(self.api.images, filters=filters):
            for tag in image.get("RepoTags") or []:
                if tag.startswith(BUILD_REPOSITORY):
                    with contextlib.suppress(NotFound, APIError):  # APIError: still used by a removing container
                        await self._call(self.api.remove_image, tag)
        volumes = (await self._call(self.api.volumes, filters=filters)).get("Volumes") or []
        for volume in volumes:
            with contextlib.suppress(NotFound):
                await self._call(self.api.remove_volume, volume["Name"], force=True)

    @contextlib.asynccontextmanager
    async def _holder(self, volume: str, image: str, labels: dict[str, str]) -> AsyncIterator[str]:
        """A container that is never started, with ``volume`` mounted writable at /holder (so
        nothing of the app runs while CRANE writes into it); removed afterwards."""
        holder = await self._call(
            self.api.create_container,
            image,
            command=["true"],
            labels={**labels, LABEL_FILES_HOLDER: volume},
            host_config=self.api.create_host_config(binds={volume: {"bind": HOLDER_MOUNT, "mode": "rw"}}),
            network_disabled=True,
        )
        try:
            yield str(holder["Id"])
        except APIError as exc:
            raise EngineError(f"cannot fill the volume {volume}: {_explain(exc)}") from exc
        finally:
            with contextlib.suppress(NotFound, APIError):
                await self._call(self.api.remove_container, holder["Id"], force=True)

    async def fill_files_volume(
        self, volume: str, image: str, archive: Callable[[], Awaitable[bytes]], labels: dict[str, str]
    ) -> None:
        """Fill a files volume once; a volume without the completion marker (its filler was
        interrupted) is filled again. ``archive`` is read only when the volume needs it."""
        async with self._files_lock, self._holder(volume, image, labels) as holder:
            try:
                await self._call(self.api.get_archive, holder, f"{HOLDER_MOUNT}/{COMPLETE_MARKER}")
            except NotFound:
                await self._call(self.api.put_archive, holder, HOLDER_MOUNT, await archive())

    async def seed_volume(
        self, volume: str, image: str, archive: Callable[[], Awaitable[bytes]], labels: dict[str, str]
    ) -> bool:
        """Create ``volume`` holding ``archive``'s content (read only then); an existing volume
        is left as it is (its data is the app's). True if seeded."""
        async with self._files_lock:
            try:
                _claimed_by_the_app(volume, await self._call(self.api.inspect_volume, volume), labels)
                return False
            except NotFound:
                pass
            content = await archive()
            await self._claim_volume(volume, labels)
            async with self._holder(volume, image, labels) as holder:
                await self._call(self.api.put_archive, holder, HOLDER_MOUNT, content)
            return True

    async def ensure_volumes(self, spec: ReplicaSpec, labels: dict[str, str]) -> None:
        for name in spec.named_volumes:
            await self._claim_volume(name, labels)

    async def _claim_volume(self, name: str, labels: dict[str, str]) -> None:
        """Create the app's volume; one that exists must be the same app's (Docker hands back an
        existing volume of that name, whoever made it)."""
        _claimed_by_the_app(name, await self._call(self.api.create_volume, name=name, labels=labels), labels)

    # --- logs and stats ----------------------------------------------------------------------
    async def running_replicas(self) -> list[tuple[str, str, str, str]]:
        """(app, service, name, container id) of every running replica of the suite."""
        rows = await self._call(self.api.containers, filters=self.naming.suite_filter())
        out = []
        for row in rows:
            labels = row.get("Labels") or {}
            if labels.get(LABEL_APP) and labels.get(LABEL_SERVICE):
                out.append((labels[LABEL_APP], labels[LABEL_SERVICE], row["Names"][0].lstrip("/"), row["Id"]))
        return out

    async def sample(self, container_id: str) -> dict[str, Any]:
        """One stats sample without waiting for a second one (Engine API 1.41's one-shot)."""
        sample: dict[str, Any] = await self._call(self.api.stats, container_id, stream=False, one_shot=True)
        return sample

    async def logs(self, app_id: str, tail: int, service: str | None) -> list[dict[str, Any]]:
        out = []
        for replica in sorted(await self.observe(app_id), key=lambda r: r.name):
            if service and replica.service != service:
                continue
            raw = await self._call(self.api.logs, replica.container_id, tail=tail, timestamps=True)
            out.append({"container": replica.name, "service": replica.service, "logs": raw.decode(errors="replace")})
        return out

    def open_log_stream(self, container_id: str, *, tail: int | str, since: float | None, follow: bool) -> Any:
        """A replica's output as it comes (blocking: iterate it in a thread; ``close()`` ends it)."""
        return self.api.logs(container_id, stream=True, follow=follow, timestamps=True, tail=tail, since=since or None)

    async def stats(self, app_id: str) -> list[dict[str, Any]]:
        replicas = [r for r in await self.observe(app_id) if r.state == "running"]
        samples = await asyncio.gather(
            *(self._call(self.api.stats, r.container_id, stream=False) for r in replicas),
            return_exceptions=True,
        )
        out = []
        for replica, sample in zip(replicas, samples, strict=False):
            if isinstance(sample, BaseException):
                continue
            out.append({"container": replica.name, "service": replica.service, **summarize_stats(sample)})
        return out


def cpu_percent(previous: dict[str, Any], current: dict[str, Any]) -> float:
    """CPU % of one core between two stats samples of the same container."""
    used = current.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0) - previous.get("cpu_stats", {}).get(
        "cpu_usage", {}
    ).get("total_usage", 0)
    system = current.get("cpu_stats", {}).get("system_cpu_usage", 0) - previous.get("cpu_stats", {}).get(
        "system_cpu_usage", 0
    )
    online = current.get("cpu_stats", {}).get("online_cpus") or 1
    return round(used / system * online * 100, 3) if system > 0 and used > 0 else 0.0


def summarize_stats(sample: dict[str, Any]) -> dict[str, Any]:
    """CPU % (of one core) and memory from one Engine stats sample (which carries the previous
    CPU reading as precpu_stats)."""
    memory = sample.get("memory_stats", {})
    return {
        "cpu_percent": cpu_percent({"cpu_stats": sample.get("precpu_stats", {})}, sample),
        "memory_bytes": memory.get("usage", 0),
        "memory_limit_bytes": memory.get("limit", 0),
        "pids": sample.get("pids_stats", {}).get("current", 0),
    }
