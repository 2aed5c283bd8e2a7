"""Compose files in and out: the one home of CRANE's Compose format.

``parse_compose`` reads a compose file into an AppSpec plus warnings. Variables are
interpolated as Compose does; every key is honoured, accepted with a warning that says why,
or refused with the path of the field (keys.py has the table). CRANE's own settings live
under ``x-crane``: at the top (name; and, as the original CRANE had them, replicas, min_scale,
max_scale, autoscaling for the primary service) and per service (http_port, min_scale,
max_scale, autoscaling, volume_scaling).

``render_compose`` writes an app as a portable compose file that ``docker compose up`` runs on
any machine, with a Traefik router so load balancing comes along, and that reads back as the
same app. Nothing of this machine goes in: no host names, suite names or secrets.
"""

from .reading import ComposeApp, ComposeError, parse_compose
from .writing import DEFAULT_TRAEFIK_IMAGE, EXPORT_LABEL, ROUTER_SERVICE, render_compose

__all__ = [
    "DEFAULT_TRAEFIK_IMAGE",
    "EXPORT_LABEL",
    "ROUTER_SERVICE",
    "ComposeApp",
    "ComposeError",
    "parse_compose",
    "render_compose",
]
