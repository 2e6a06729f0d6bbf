"""The asyncio helper every layer uses (client, server, media): :func:`cancelled`."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancelled(*futures: asyncio.Future[Any]) -> None:
    """Cancel ``futures`` and wait until they have finished (their errors are theirs: not raised here)."""
    for future in futures:
        future.cancel()
    await asyncio.gather(*futures, return_exceptions=True)
