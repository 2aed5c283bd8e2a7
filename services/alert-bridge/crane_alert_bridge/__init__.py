"""CRANE alert-bridge: receives Alertmanager's webhook (payload version 4), authenticated with
the suite's bearer token, and publishes one alert.firing / alert.resolved event per alert and
state change, so retries and repeats of the same notification never act twice.

Pure core: ``webhook`` (payload model, alert -> event, state comparison). Adapters: ``ledger``
(alert states in KV), ``main`` (HTTP + NATS request/reply for the API's legacy route)."""
