"""Labels an image brings with it. Docker copies an image's LABELs (its own and its base
images') onto every container made from it, and Traefik and CRANE read container labels: a
``traefik.http.routers.x.rule`` in a tenant's Dockerfile would route another tenant's host to
the tenant's replica, and a ``crane.app`` would make it another app's. So only CRANE decides
those namespaces: an image label in them is refused unless the replica's own labels (which
CRANE writes, and which win over the image's) set the same key.

Pure: the labels are given; the deployer asks the Engine for them before any replica is made.
"""

from __future__ import annotations

from collections.abc import Mapping

# Namespaces whose labels steer routing (Traefik reads them) or CRANE (ownership, replicas).
RESERVED_PREFIXES = ("traefik.", "crane.")
# Labels in CRANE's namespace that only say where an image came from, and that nothing reads
# to decide anything: the suite's own images (crane/hello:local among them, which tenants
# build on) and the test harness's images carry them.
INERT_IMAGE_LABELS = frozenset({"crane.image", "crane.test"})


def labels_only_crane_sets(image_labels: Mapping[str, str] | None, replica_labels: Mapping[str, str]) -> list[str]:
    """The image's labels in a reserved namespace that would reach the replica as they are
    (Traefik reads its prefix in any case, so the check does too), sorted."""
    return sorted(
        key
        for key in image_labels or {}
        if key.lower().startswith(RESERVED_PREFIXES) and key not in replica_labels and key not in INERT_IMAGE_LABELS
    )


def refusal(service: str, image: str, keys: list[str]) -> str:
    """Why a service's image is refused, in words a tenant can act on."""
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return (
        f"services.{service}: the image {image} carries labels only CRANE may set ({shown}); Docker would copy "
        "them onto its replicas, where they would steer routing or CRANE. Remove the LABEL lines from the "
        "Dockerfile (or build on a base image without them)"
    )
