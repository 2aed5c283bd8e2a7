"""CRANE policy: decides what to do about alerts with Rego policies (scale up, scale down,
restart, or nothing) and publishes the decision and the intent that carries it out.

Pure core: ``scaling_memory`` (cooldown and stabilization window), the Rego in ``policies/``.
Adapters: ``engines`` (regopy or an OPA server), ``prometheus``, ``policy_store`` (KV),
``sandbox`` (compile and dry-run in a child process), ``decider`` and ``main`` (bus wiring).
"""
