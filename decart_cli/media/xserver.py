"""What the window asks of the X server itself, over a libxcb connection of its own.

OpenCV's Qt has its own connection; this one is for what Qt does not
offer: checking that the display answers before Qt is let near it (Qt
aborts the process when it cannot connect), and keeping the server from
resetting under us. Everything here is best effort: without libxcb it
answers as if there were no X server.
"""

from __future__ import annotations

import ctypes

_held: dict[str, int] = {}
"""One idle libxcb connection per display that answered :func:`reachable`, kept open."""


def reachable(display: str) -> bool:
    """Connect to ``display`` with libxcb, as Qt's xcb plugin will; keep the connection if it works.

    Hanging up would be a trap: a bare X server (Xvfb, ``xvfb-run``)
    resets when its last client leaves and refuses connections meanwhile,
    so Qt, connecting a moment later, failed to start about one run in ten
    (and aborted the process). An idle connection held for the process's
    life keeps the server from resetting under us.
    """
    if display in _held:
        return True
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return False  # Qt's xcb plugin needs it too: no window possible
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    if not conn:
        return False
    if xcb.xcb_connection_has_error(conn) != 0:
        xcb.xcb_disconnect(conn)
        return False
    _held[display] = conn
    return True
