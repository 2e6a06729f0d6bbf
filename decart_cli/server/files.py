"""Uploaded files (``/v1/files``), kept in memory for as long as they live.

The hosted service keeps an uploaded file for a while (24 h unless told
otherwise, or for good) under an id ``file_...`` that can stand wherever an
image goes: ``set_image {image_ref}``, the SDKs' ``set({image})``. Each file
belongs to the account that uploaded it (see :mod:`.keys`); another account
cannot see it. This server keeps them in memory, within limits: a file of at
most :data:`MAX_FILE_BYTES`, :data:`MAX_FILES` at once and
:data:`MAX_TOTAL_BYTES` in all. Nothing survives a restart.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Refused
from .keys import iso

PREFIX = "file_"
DEFAULT_TTL = 24 * 3600
MIN_TTL = 60
MAX_TTL = 30 * 24 * 3600
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 200
MAX_TOTAL_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    id: str
    account: str
    filename: str
    mime_type: str
    data: bytes
    created_at: float
    expires_at: float | None
    """None: kept until deleted (``persistent``)."""

    def answer(self) -> dict[str, Any]:
        """The file as the service describes it (no content)."""
        return {
            "id": self.id,
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": iso(self.created_at),
            "expires_at": None if self.expires_at is None else iso(self.expires_at),
        }


def parse_ttl(value: str | None) -> float | None:
    """``ttl_seconds`` of an upload: seconds to keep the file, None for ``persistent``; raises Refused (400)."""
    if value is None or value == "":
        return DEFAULT_TTL
    if value == "persistent":
        return None
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if not MIN_TTL <= seconds <= MAX_TTL:
        raise Refused(f"ttl_seconds must be a whole number from {MIN_TTL} to {MAX_TTL}, or persistent", status=400)
    return seconds


@dataclass
class Files:
    """The uploaded files of one server."""

    clock: Callable[[], float] = time.time
    _files: dict[str, StoredFile] = field(default_factory=dict)

    def add(self, account: str, filename: str, mime_type: str, data: bytes, ttl: float | None) -> StoredFile:
        """Keep ``data`` for ``ttl`` seconds (None: until deleted); raises Refused (413/507) past the limits."""
        self._forget_expired()
        if len(data) > MAX_FILE_BYTES:
            raise Refused(f"the file is {len(data)} bytes; at most {MAX_FILE_BYTES} are accepted", status=413)
        if len(self._files) >= MAX_FILES or sum(len(f.data) for f in self._files.values()) + len(data) > MAX_TOTAL_BYTES:
            raise Refused(f"this server holds as many files as it keeps ({MAX_FILES}, {MAX_TOTAL_BYTES // 2**20} MiB); delete some first", status=507)
        now = self.clock()
        stored = StoredFile(
            id=PREFIX + secrets.token_hex(12),
            account=account,
            filename=filename[:255] or "file",
            mime_type=mime_type[:100] or "application/octet-stream",
            data=data,
            created_at=now,
            expires_at=None if ttl is None else now + ttl,
        )
        self._files[stored.id] = stored
        return stored

    def get(self, account: str, file_id: str) -> StoredFile:
        """The file ``file_id`` of ``account``; raises Refused (404) when there is none (or it expired)."""
        self._forget_expired()
        stored = self._files.get(file_id)
        if stored is None or stored.account != account:
            raise Refused(f"no file {file_id[:60]!r} (it may have expired or been deleted)", status=404)
        return stored

    def delete(self, account: str, file_id: str) -> None:
        del self._files[self.get(account, file_id).id]

    def _forget_expired(self) -> None:
        now = self.clock()
        for file_id in [i for i, f in self._files.items() if f.expires_at is not None and f.expires_at <= now]:
            del self._files[file_id]
