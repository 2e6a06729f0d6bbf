"""The local realtime server (``decart serve``)."""

from .app import Server, ServerSession

__all__ = ["Server", "ServerSession"]
