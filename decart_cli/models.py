"""The registry of realtime models: name, protocol generation, frame rate and size.

Two generations (see ``shared/PROTOCOL.md``):

* ``legacy``: media on one WebRTC peer connection negotiated over the
  WebSocket (``lucy_v2v_720p_rt``, ``mirage``, ...). The hosted service no
  longer serves them; ``decart serve`` still does.
* ``today``: the WebSocket is a control channel and media goes through a
  LiveKit room (``lucy-2.x``, ``lucy-vton-*``, ``lucy-restyle-*``, 30 fps).

``-latest`` names are aliases the service resolves; :attr:`Model.alias_of`
says to what. :attr:`Model.speeds` are the ``speed=`` tiers a model takes,
:attr:`Model.resolutions` the ``resolution=`` sizes it offers (today's
protocol only; :meth:`Model.at` is the model at one of them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import UnknownModelError

LEGACY = "legacy"
TODAY = "today"

RESOLUTIONS: dict[str, tuple[int, int]] = {"720p": (1280, 720), "1080p": (1920, 1080)}
"""The ``resolution=`` values of today's protocol (as the official SDKs send them) and the size each stands for.

A model offering ``720p`` keeps its own size for it (``lucy-restyle-2``: 1280x704).
"""


@dataclass(frozen=True)
class Model:
    """One realtime model, as the service expects its input."""

    name: str
    fps: int
    width: int
    height: int
    path: str = "/v1/stream"
    accepts_image: bool = False
    description: str = ""
    generation: str = LEGACY
    alias_of: str | None = None
    speeds: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    """The ``resolution=`` values the model offers (the first is its own size); none on the legacy protocol."""
    resolution: str | None = None
    """The resolution this model was taken at (:meth:`at`); None: its own size, nothing asked for."""

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames the model takes and returns."""
        return (self.width, self.height)

    @property
    def uses_livekit(self) -> bool:
        """True for today's models: control channel plus a LiveKit room."""
        return self.generation == TODAY

    def offers(self, resolution: str) -> bool:
        """Whether ``resolution`` (``720p``, ``1080p``) is one the model offers."""
        return resolution in self.resolutions

    def at(self, resolution: str | None) -> Model:
        """This model at ``resolution``: its size the one that stands for (1080p: 1920x1080); None: as it is.

        ``resolution`` must be one it :meth:`offers`.
        """
        if resolution is None:
            return self
        if not self.offers(resolution):
            raise ValueError(f"model {self.name} does not offer {resolution}")
        width, height = RESOLUTIONS[resolution] if resolution != self.resolutions[0] else self.size
        return replace(self, width=width, height=height, resolution=resolution)


def _today(name: str, height: int, description: str, *, image: bool, fast: bool = False, hd: bool = False, alias_of: str | None = None) -> Model:
    return Model(
        name,
        30,
        1280,
        height,
        accepts_image=image,
        description=description,
        generation=TODAY,
        alias_of=alias_of,
        speeds=("fast",) if fast else (),
        resolutions=("720p", "1080p") if hd else ("720p",),
    )


_EDIT = "video editing (add / change / remove), optional reference image"
_VTON = "virtual try-on: a garment from the reference image"
_RESTYLE = "restyling"

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("lucy_v2v_720p_rt", 25, 1280, 704, description="video editing (add / change / remove)"),
        Model("mirage", 25, 1280, 704, description="restyling"),
        Model("mirage_v2", 22, 1280, 704, description="restyling"),
        Model("lucy_2_rt", 20, 1280, 720, accepts_image=True, description="editing with a reference image"),
        _today("lucy-2.1", 720, _EDIT, image=True, hd=True),
        _today("lucy-2.5", 720, _EDIT, image=True, hd=True, fast=True),
        _today("lucy-2.6", 720, _EDIT, image=True, hd=True, fast=True),
        _today("lucy-latest", 720, _EDIT, image=True, hd=True, fast=True, alias_of="lucy-2.6"),
        _today("lucy-vton-3.5", 720, _VTON, image=True, fast=True),
        _today("lucy-vton-3.6", 720, _VTON, image=True, fast=True),
        _today("lucy-vton-latest", 720, _VTON, image=True, fast=True, alias_of="lucy-vton-3.6"),
        _today("lucy-restyle-2", 704, _RESTYLE, image=False),
        _today("lucy-restyle-latest", 704, _RESTYLE, image=False, alias_of="lucy-restyle-2"),
    )
}

DEFAULT_MODEL = "lucy_v2v_720p_rt"
"""The model of a session with the local server (legacy protocol: the faster path on loopback)."""
HOSTED_MODEL = "lucy-latest"
"""The model of a session with the hosted service: its own alias for its current editing model, so a
session keeps working when a version retires (as ``lucy_v2v_720p_rt`` did)."""


def models_of(generation: str) -> list[Model]:
    """The models of one generation (``legacy`` or ``today``), in registry order."""
    return [m for m in MODELS.values() if m.generation == generation]


def names_of(generation: str) -> str:
    """The names of one generation's models, comma-separated, in registry order (for messages)."""
    return ", ".join(m.name for m in models_of(generation))


def get_model(name: str) -> Model:
    """Return the model called ``name``, or raise :class:`UnknownModelError` naming the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}", f"choose one of {', '.join(MODELS)} (see `decart models`)"
        ) from None
