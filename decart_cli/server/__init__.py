"""The local realtime server (``decart serve``)."""

from .app import Server
from .session import ServerSession

__all__ = ["Server", "ServerSession"]
