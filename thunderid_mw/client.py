"""``ThunderIDClient`` and ``AsyncThunderIDClient``: the Node SDK's client for Python.

The async client is written by hand (``_async_client.py``); the blocking one is generated
from it (``_sync_client.py``, scripts/unasync.py), so the two cannot drift apart.
"""

from __future__ import annotations

from ._async_client import AsyncThunderIDClient
from ._sync_client import ThunderIDClient

__all__ = ["AsyncThunderIDClient", "ThunderIDClient"]
