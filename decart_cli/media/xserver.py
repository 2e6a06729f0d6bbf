"""What the window asks of the X server itself, over a libxcb connection of its own.

OpenCV's Qt has its own connection; this one is for what Qt does not
offer: checking that the display answers before Qt is let near it (Qt
aborts the process when it cannot connect), and keeping the server from
resetting under us. Everything here is best effort: without libxcb it
answers as if there were no X server.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

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
        xcb = _xcb()
    except OSError:
        return False  # Qt's xcb plugin needs it too: no window possible
    conn = xcb.xcb_connect(display.encode(), None)
    if not conn:
        return False
    if xcb.xcb_connection_has_error(conn) != 0:
        xcb.xcb_disconnect(conn)
        return False
    _held[display] = conn
    return True


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


class _Geometry(ctypes.Structure):
    """``xcb_get_geometry_reply_t``."""

    _fields_ = [
        ("response_type", ctypes.c_uint8), ("depth", ctypes.c_uint8), ("sequence", ctypes.c_uint16), ("length", ctypes.c_uint32),
        ("root", ctypes.c_uint32), ("x", ctypes.c_int16), ("y", ctypes.c_int16), ("width", ctypes.c_uint16), ("height", ctypes.c_uint16),
        ("border_width", ctypes.c_uint16),
    ]


_WM_NAME = 39  # predefined atoms
_ANY_TYPE = 0
_Z_PIXMAP = 2
_lib: ctypes.CDLL | None = None


def _xcb() -> ctypes.CDLL:
    """libxcb with the signatures used below (loaded once)."""
    global _lib
    if _lib is None:
        xcb = ctypes.CDLL("libxcb.so.1")
        vp, u32, u16, i16, u8 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint16, ctypes.c_int16, ctypes.c_uint8
        signatures = {
            "xcb_connect": (vp, [ctypes.c_char_p, vp]),
            "xcb_connection_has_error": (ctypes.c_int, [vp]),
            "xcb_disconnect": (None, [vp]),
            "xcb_get_setup": (vp, [vp]),
            "xcb_setup_roots_iterator": (_ScreenIterator, [vp]),
            "xcb_query_tree": (_Cookie, [vp, u32]),
            "xcb_query_tree_reply": (vp, [vp, _Cookie, vp]),
            "xcb_query_tree_children": (ctypes.POINTER(u32), [vp]),
            "xcb_query_tree_children_length": (ctypes.c_int, [vp]),
            "xcb_get_property": (_Cookie, [vp, u8, u32, u32, u32, u32, u32]),
            "xcb_get_property_reply": (vp, [vp, _Cookie, vp]),
            "xcb_get_property_value": (vp, [vp]),
            "xcb_get_property_value_length": (ctypes.c_int, [vp]),
            "xcb_get_geometry": (_Cookie, [vp, u32]),
            "xcb_get_geometry_reply": (ctypes.POINTER(_Geometry), [vp, _Cookie, vp]),
            "xcb_get_image": (_Cookie, [vp, u8, u32, i16, i16, u16, u16, u32]),
            "xcb_get_image_reply": (vp, [vp, _Cookie, vp]),
            "xcb_get_image_data": (ctypes.POINTER(u8), [vp]),
            "xcb_get_image_data_length": (ctypes.c_int, [vp]),
            "xcb_unmap_window": (_Cookie, [vp, u32]),
            "xcb_map_window": (_Cookie, [vp, u32]),
            "xcb_flush": (ctypes.c_int, [vp]),
        }
        for name, (restype, argtypes) in signatures.items():
            function = getattr(xcb, name)
            function.restype, function.argtypes = restype, argtypes
        _lib = xcb
    return _lib


_free = ctypes.CDLL(None).free
_free.argtypes = [ctypes.c_void_p]


def _reply(call: str, conn: int, cookie: _Cookie) -> Any:
    """The reply to ``cookie`` (the caller frees it), or None after an X error (freed here)."""
    error = ctypes.c_void_p()
    reply = getattr(_xcb(), call)(conn, cookie, ctypes.byref(error))
    if error.value:
        _free(error)
    return reply or None


def _name(conn: int, window: int) -> bytes:
    xcb = _xcb()
    reply = _reply("xcb_get_property_reply", conn, xcb.xcb_get_property(conn, 0, window, _WM_NAME, _ANY_TYPE, 0, 256))
    if reply is None:
        return b""
    try:
        return ctypes.string_at(xcb.xcb_get_property_value(reply), xcb.xcb_get_property_value_length(reply))
    finally:
        _free(reply)


def _children(conn: int, window: int) -> list[int]:
    xcb = _xcb()
    reply = _reply("xcb_query_tree_reply", conn, xcb.xcb_query_tree(conn, window))
    if reply is None:
        return []
    try:
        return list(xcb.xcb_query_tree_children(reply)[: xcb.xcb_query_tree_children_length(reply)])
    finally:
        _free(reply)


def window_named(display: str, title: str) -> int | None:
    """The X id of the top-level window called ``title`` (a window manager's frame may hold it), or None.

    Only on a display :func:`reachable` connected to.
    """
    conn = _held.get(display)
    if conn is None:
        return None
    xcb = _xcb()
    root = ctypes.c_uint32.from_address(xcb.xcb_setup_roots_iterator(xcb.xcb_get_setup(conn)).data).value
    wanted = title.encode("utf-8", "replace")
    for top in _children(conn, root):
        for window in (top, *_children(conn, top)):
            if _name(conn, window) == wanted:
                return window
    return None


def window_centre(display: str, window: int, size: int = 8) -> np.ndarray | None:
    """The ``size`` x ``size`` BGR pixels at the centre of ``window`` as the X server holds them, or None where it will not say."""
    conn = _held.get(display)
    if conn is None:
        return None
    xcb = _xcb()
    geometry = _reply("xcb_get_geometry_reply", conn, xcb.xcb_get_geometry(conn, window))
    if geometry is None:
        return None
    try:
        width, height, depth = geometry.contents.width, geometry.contents.height, geometry.contents.depth
    finally:
        _free(geometry)
    if depth not in (24, 32) or width < size or height < size:
        return None
    reply = _reply("xcb_get_image_reply", conn, xcb.xcb_get_image(conn, _Z_PIXMAP, window, (width - size) // 2, (height - size) // 2, size, size, 0xFFFFFFFF))
    if reply is None:
        return None
    try:
        data = ctypes.string_at(xcb.xcb_get_image_data(reply), xcb.xcb_get_image_data_length(reply))
    finally:
        _free(reply)
    if len(data) != size * size * 4:
        return None
    return np.frombuffer(data, np.uint8).reshape(size, size, 4)[:, :, :3].copy()  # 32 bits a pixel, BGRX


def remap(display: str, window: int) -> None:
    """Unmap and map ``window`` again: its owner gets fresh UnmapNotify, MapNotify and Expose events."""
    conn = _held.get(display)
    if conn is None:
        return
    xcb = _xcb()
    xcb.xcb_unmap_window(conn, window)
    xcb.xcb_map_window(conn, window)
    xcb.xcb_flush(conn)
