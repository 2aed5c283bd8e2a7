"""What Python 3.11 added that the host side of `make up` (nats_auth, the image build) uses:
the services run on the image's 3.11, but the host may have 3.10."""

from __future__ import annotations

import sys
from datetime import timezone
from enum import Enum

if sys.version_info >= (3, 11):
    from datetime import UTC
    from enum import StrEnum
else:  # pragma: no cover - exercised on 3.10 hosts only
    UTC = timezone.utc

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


__all__ = ["UTC", "StrEnum"]
