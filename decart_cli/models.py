"""The registry of realtime models: name, path, frame rate and frame size."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UnknownModelError


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

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames the model takes and returns."""
        return (self.width, self.height)


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("lucy_v2v_720p_rt", 25, 1280, 704, description="video editing (add / change / remove)"),
        Model("mirage", 25, 1280, 704, description="restyling"),
        Model("mirage_v2", 22, 1280, 704, description="restyling"),
        Model("lucy_2_rt", 20, 1280, 720, accepts_image=True, description="editing with a reference image"),
    )
}

DEFAULT_MODEL = "lucy_v2v_720p_rt"


def get_model(name: str) -> Model:
    """Return the model called ``name``, or raise :class:`UnknownModelError` naming the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}", f"choose one of {', '.join(MODELS)} (see `decart models`)"
        ) from None
