"""The deployer: turns app records into containers on the Docker Engine and keeps them there.

Pure cores: ``naming`` (names and labels), ``plan`` (desired x observed -> actions),
``container_spec`` (spec -> Engine create arguments). The compose export is ``crane_shared.compose``.
Adapters: ``engine`` (Docker Engine API), ``reconciler`` and ``intents`` (bus + state).
"""
