"""Settings, one frozen object per command, built by the CLI.

Nothing below the CLI reads the environment or the command line: it is
given one of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from .client.cues import Cue
    from .protocol.watch_token import RoomToken, SessionToken

Fit = Literal["crop", "pad", "stretch"]
FIT_MODES: tuple[str, ...] = get_args(Fit)
VIEWS = ("edited", "side-by-side")
"""What ``decart edit``'s window can show."""
CODECS = ("h264", "vp8", "vp9")
"""What ``decart edit`` can publish its camera with on today's protocol (the official SDKs' choices)."""

DEFAULT_PORT = 8765
HOSTED_URL = "wss://api3.decart.ai"


@dataclass(frozen=True)
class Screen:
    """Where windows open: what the process was given (the CLI reads it from the environment)."""

    display: str = ""
    """The X display (``DISPLAY``)."""
    wayland: str = ""
    """The Wayland display (``WAYLAND_DISPLAY``)."""
    qt_plugins: str = ""
    """Where OpenCV's bundled Qt keeps its plugins (``QT_QPA_PLATFORM_PLUGIN_PATH``, set by importing cv2)."""

    @classmethod
    def of(cls, environ: Mapping[str, str]) -> Screen:
        return cls(environ.get("DISPLAY", ""), environ.get("WAYLAND_DISPLAY", ""), environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", ""))


@dataclass(frozen=True)
class SourceConfig:
    """Where input frames come from and how they are shaped."""

    spec: str = "test"
    """Camera index (``0``), device path, video file, or ``test`` (built-in pattern)."""
    width: int = 1280
    height: int = 704
    fps: float = 25.0
    fit: Fit = "crop"
    """How to reach the model's size: ``crop`` (fill, cut edges), ``pad`` (letterbox), ``stretch``."""
    mirror: bool = False
    """Flip horizontally before sending (front-facing cameras)."""
    loop: bool = False
    """Start a file again at its end instead of ending the session."""


@dataclass(frozen=True)
class EditConfig:
    """Everything one ``decart edit`` session needs."""

    source: SourceConfig
    model: str = "lucy_v2v_720p_rt"
    url: str | None = None
    """Server base URL; None runs the embedded local server."""
    api_key: str = ""
    prompt: str | None = None
    enhance: bool = True
    output: Path | None = None
    show: bool = False
    duration: float | None = None
    read_stdin: bool = True
    connect_timeout: float = 15.0
    ack_timeout: float = 15.0
    drain_timeout: float = 3.0
    """After a file input ends: how long to wait for the last edited frames."""
    ice_servers: tuple[str, ...] | None = None
    """STUN/TURN URLs; None keeps aiortc's default (unused on loopback)."""
    user_agent: str = ""
    stats: bool = False
    """Measure latency and bitrate live (stamps a frame-id strip into the top-left corner)."""
    reconnect_attempts: int = 5
    """After an established session drops: how many times to try again (0: give up at once)."""
    reconnect_delay: float = 1.0
    """Wait before the first reconnect attempt; doubles with each attempt."""
    reconnect_max_delay: float = 10.0
    """The longest wait between two reconnect attempts."""
    transport: str = "webrtc"
    """``webrtc`` (legacy protocol) or ``livekit`` (today's): the CLI resolves ``auto``."""
    resolution: str | None = None
    """``resolution=`` in the control channel's query (``720p``, ``1080p``; today's protocol); None: the model's own size, nothing sent."""
    codec: str = "h264"
    """The codec the camera is published with in the room (one of :data:`CODECS`; today's protocol)."""
    image: str | None = None
    """Reference image (base64), sent with the initial prompt and on every reconnect."""
    max_seconds: float | None = None
    """End the session once the server has billed this many seconds (``generation_tick``)."""
    vcam: str | None = None
    """Send the edited video to a virtual camera: a device name, or ``""`` for the first one found; None: no."""
    cues: tuple[Cue, ...] = ()
    """Prompts and commands at set times of the input (``--cues``)."""
    audio: bool | None = None
    """Sound: None takes a file input's own; True also the default microphone for a camera (or the test pattern); False none."""
    view: str = "edited"
    """What the window shows: ``edited``, or ``side-by-side`` (the input beside the edit, the same moment)."""
    snapshot_dir: Path = Path(".")
    """Where ``/snapshot`` without a file name writes (the CLI gives its working directory)."""
    vcam_backend: str | None = None
    """The pyvirtualcam backend for ``vcam``; None tries every one registered."""
    screen: Screen = field(default_factory=Screen)
    """Where the window opens (with ``show``)."""

    def reconnect_wait(self, attempt: int) -> float:
        """Seconds to wait before reconnect ``attempt`` (1-based): exponential backoff, capped."""
        return min(self.reconnect_delay * 2 ** (attempt - 1), self.reconnect_max_delay)


@dataclass(frozen=True)
class WatchConfig:
    """Everything one ``decart watch`` needs."""

    token: SessionToken | RoomToken
    """The watched session (decoded from the token ``decart edit`` printed)."""
    url: str
    """The base URL of the server the session runs on."""
    api_key: str = ""
    output: Path | None = None
    show: bool = False
    duration: float | None = None
    """Stop after this many seconds of video."""
    connect_timeout: float = 15.0
    ice_servers: tuple[str, ...] | None = None
    screen: Screen = field(default_factory=Screen)
    """Where the window opens (with ``show``)."""


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``decart serve`` needs."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str | None = None
    """When set, clients must present this key; otherwise any key is accepted."""
    engine: str | None = None
    """``module:Class`` of a custom engine; None uses the built-in one."""
    max_message_bytes: int = 8 * 1024 * 1024
    """Largest WebSocket message accepted; a bigger one closes that socket (1009).

    Reference images travel inside ``set_image`` as base64: 8 MiB takes a
    ~6 MB photo; a 2 MiB cap closed sessions over an ordinary PNG.
    """
    max_prompt_length: int = 1000
    """Longer prompts are refused in their ``prompt_ack`` (the hosted API's limit)."""
    max_sessions: int = 4
    """Concurrent sessions (0: no limit); one more gets an ``error`` ("server is full") and a close."""
    max_queue: int = 16
    """Clients of today's protocol that may wait for a session; one more is told the server is at capacity (0: no limit)."""
    max_connections_per_address: int = 64
    """Open TCP connections one client address may hold (0: no limit); one more is answered 429 and closed."""
    idle_connection_seconds: float = 15.0
    """A connection without a whole HTTP request for this long (at its start, or between requests) is closed."""
    idle_timeout: float = 30.0
    """Seconds a socket may stay open without a successful offer; 0 waits forever."""
    prompt_rate: float = 10.0
    """Prompts (and set_image messages) per second per session, refilled continuously; 0: no limit."""
    prompt_burst: int = 20
    """How many prompts a session may send at once before the rate applies."""
    sessions_per_key: int = 0
    """Sessions one key (an account, with its client tokens) may hold at once; one more is closed with 1013
    ("Concurrent session limit reached."), as the service does. 0: no limit but ``max_sessions``."""
    web_root: str | None = None
    """A folder whose files are served at their paths (a web app on this server's origin); its ``index.html`` replaces the built-in page."""
    allowed_origins: tuple[str, ...] = ()
    """Web pages of these origins may use the server besides loopback pages and its own (``*``: any); see :mod:`decart_cli.server.cors`."""
    tls_cert: str | None = None
    """A PEM certificate (chain) file: the server speaks ``wss://`` and ``https://`` (with :attr:`tls_key`)."""
    tls_key: str | None = None
    """The PEM private key of :attr:`tls_cert`."""
