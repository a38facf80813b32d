"""Hybrid-logical-clock times and the clock strings that order changes.

An HLC time is milliseconds since 1970 shifted left 16 bits, plus a counter: it follows the
wall clock, never goes backwards, and moves past every time this laptop has seen from others,
so a change made after reading another laptop's change is ordered after it even when this
laptop's clock is behind.

A clock string orders two changes to the same field, on the server and on every laptop alike:
``HLC (20 digits) : rank : change id``. Text order is change order; the rank makes a consent
withdrawal win a tie; the change id breaks the rest of the ties the same way everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: Milliseconds a laptop's clock may run ahead of the server's (the server refuses more).
MAX_AHEAD_MS = 5 * 60 * 1000


def physical(moment: datetime) -> int:
    """The HLC time of a wall-clock moment, with a zero counter."""
    return int(moment.timestamp() * 1000) << 16


def advance(last: int, moment: datetime) -> int:
    """The next HLC time after ``last`` at wall-clock ``moment``."""
    return max(physical(moment), last + 1)


def milliseconds(hlc: int) -> int:
    return hlc >> 16


def is_withdrawal(table: str, payload: Mapping[str, Any] | None) -> bool:
    """A consent withdrawal wins a tie: whoever withdrew, the withdrawal stands."""
    if table != "consents" or not payload:
        return False
    return (
        payload.get("withdrawn_on") is not None
        or payload.get("information_sharing") is False
        or payload.get("taking_part") is False
    )


def clock_string(hlc: int, change_id: uuid.UUID, *, withdrawal: bool = False) -> str:
    return f"{hlc:020d}:{1 if withdrawal else 0}:{change_id}"
