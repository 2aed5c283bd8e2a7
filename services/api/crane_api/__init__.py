"""The REST gateway: users, tokens and apps under /api/v1. It validates requests, publishes
intent events and reads state from JetStream; it never talks to Docker."""
