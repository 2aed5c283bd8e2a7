"""CRANE's spine: the event contract (subjects, envelope, payloads), the app model,
the bus helper and the JetStream-backed state every service shares.

No service imports another service; they all import this package and talk through NATS.
"""
