"""CRANE monitor-config: keeps Prometheus and Alertmanager in step with the apps.

Pure core: ``render`` (an app -> scrape targets and alert rules; the suite -> prometheus.yml
and alertmanager.yml). Adapters: ``files`` (writes them atomically), ``reloader`` (POST
/-/reload), ``main`` (consumes app events)."""
