"""What to do about a failure, in the command line's own terms (flags, environment variables).

Lower layers name the setting to change (``DecartError.fix``, see
:mod:`decart_cli.errors`); this is where it is worded, so the same failure
reads the same whichever command met it.
"""

from __future__ import annotations

from collections.abc import Callable

_INPUTS = "use -i 0 for a camera, a video file path, -i sample for the bundled sample clip, or -i test for the built-in test pattern"

FIXES: dict[str, str] = {
    # The server and the key.
    "api_key": "check --api-key or DECART_API_KEY",
    "model": "pick another with -m (see `decart models`)",
    "url_and_model": "check --url and --model",
    "url_or_timeout": "check --url, or raise --connect-timeout",
    "url_host_port": "check the host and port in --url",
    "url_running": "check --url and that the server is running",
    "local_edits": "/help edits (or decart models --edits) lists every edit",
    "tls_trust": "trust the server's certificate: install its CA, or point SSL_CERT_FILE at it",
    "url_is_server": "is --url a decart realtime server?",
    "connect_timeout": "check the server, or raise --connect-timeout",
    "reconnect": "check the server, or raise --reconnect",
    "resolution": "drop --resolution, or pick one the model offers (`decart models` lists them)",
    "codec": "publish with --codec h264 (the default) or another codec the server takes",
    # The input.
    "input": "{lead}; or " + _INPUTS,
    "no_camera": "no cameras found on this machine; use a video file or -i test",
    "other_camera": "cameras here: {cameras}; or use a video file or -i test",
    "default_camera": "try -i 0 for the default camera, a video file, or -i test",
    "camera_busy": "is another program using it? try another camera, a video file, or -i test",
    "reinstall": "reinstall decart; or use a video file or -i test",
    "clip": "check the path, or use -i sample or -i test",
    # The window and the virtual camera.
    "no_display": "use --no-show, or set DISPLAY",
    "check_display": "use --no-show, or check DISPLAY",
    "no_window": "use --no-show",
    "window_bug": "a bug in decart (cv2 must be imported before av); use --no-show meanwhile",
    "vcam_driver": "{driver}, or run without --vcam",
    # decart doctor's table.
    "doctor_display": "run where DISPLAY is set, or use --no-show with -o FILE or --vcam",
    "doctor_microphone": "plug one in, or go on without --audio",
    "doctor_key": "set DECART_API_KEY (or --api-key) for the hosted service",
    "doctor_vcam_ok": "used by --vcam",
    "doctor_microphone_ok": "used by --audio",
    "watch_url": "is the session still running? check the token and --url",
    # The engine.
    "engine_spec": "--engine takes module:Class, e.g. my_engines:Mirror",
}
"""``fix`` name -> the words; ``{name}`` blanks are filled from the error's ``details``."""


def _watch_command(token: str, server: str) -> tuple[str, str]:
    """How to watch the session, as a caption and the command (``--url`` only when it is not on the hosted service)."""
    return "watch it live from another terminal:", f"decart watch {token}" + (f" --url {server}" if server else "")


NOTICES: dict[str, str | Callable[..., str]] = {
    "max_seconds": "{billed} billed seconds: reached --max-seconds {limit:g}",
}
"""Notices that name a flag or a command: name -> the words, a template or a function of the details (see ``ConsoleReporter.announce``)."""

COPYABLE: dict[str, Callable[..., tuple[str, str]]] = {
    "watch_token": _watch_command,
}
"""Notices that are a line to copy: name -> (caption on stderr, the line on stdout) from the details."""
