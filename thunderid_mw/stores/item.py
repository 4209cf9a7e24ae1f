"""``StoredItem``: one record as a session store returns it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One record as a store returns it."""

    data: bytes
    version: int
    expires_at: float  # Unix time, seconds
