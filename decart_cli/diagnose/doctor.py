"""What a session needs, checked one by one (``decart doctor``): each check says what it found and how to fix it.

A :class:`Check` is ``ok``, ``warn`` (a feature that will not work, the
session will) or ``fail`` (a session will not work). ``required`` checks
decide whether a session would work: a camera to edit, and an editing
server (the hosted one with the key, or the local one) that answers and
sends edited frames back. Nothing here prints; the CLI renders the checks.
"""

from __future__ import annotations

import glob
import io
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2

from ..config import Screen, SourceConfig
from ..errors import DecartError, SourceError

CAMERA_SECONDS = 2.0
"""How long each camera's real frame rate is measured for."""
MAX_CAMERA_INDEX = 4
"""Cameras tried by index where devices cannot be listed (macOS, Windows)."""


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: str
    """``ok``, ``warn`` or ``fail``."""
    detail: str
    fix: str = ""
    """What to do, where it names no flag."""
    required: bool = False
    fix_name: str | None = None
    """What to do, by name: the CLI words it (flags, variables; see :mod:`decart_cli.cli.fixes`)."""
    fix_details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_error(cls, name: str, status: str, detail: str, error: DecartError, default: str = "", *, required: bool = False) -> Check:
        """A check that failed with ``error``: its advice, or ``default`` when it gives none."""
        return cls(name, status, detail, error.hint or default, required, error.fix, dict(error.details))

    def advice(self, fixes: Mapping[str, str]) -> str:
        """What to do, worded with ``fixes`` where the check names its fix."""
        if self.fix_name is not None and self.fix_name in fixes:
            return fixes[self.fix_name].format(**self.fix_details)
        return self.fix

    def to_dict(self, fixes: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.advice(fixes or {}), "required": self.required}


def would_work(checks: list[Check]) -> bool:
    """Whether a session would work: every required check is ok."""
    return all(check.status == "ok" for check in checks if check.required)


DEV = "/dev"
"""Where Linux lists its video devices."""


def camera_candidates(dev: str | None = None, platform: str = sys.platform) -> list[str | int]:
    """The cameras to try: ``/dev/video*`` on Linux, indices elsewhere."""
    dev = dev or DEV
    if platform.startswith("linux"):
        return sorted(glob.glob(f"{dev}/video*"), key=lambda path: (len(path), path))
    return list(range(MAX_CAMERA_INDEX))


def measure_camera(device: str | int, seconds: float = CAMERA_SECONDS) -> tuple[str, float] | None:
    """(its mode, the frame rate it really delivers) for a camera that gives frames; None for one that does not."""
    cap = cv2.VideoCapture(device)
    try:
        if not cap.isOpened():
            return None
        ok, frame = cap.read()
        if not ok or frame is None:
            return None
        height, width = frame.shape[:2]
        nominal = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frames, start = 0, time.monotonic()
        while time.monotonic() - start < seconds:
            ok, frame = cap.read()
            if not ok:
                break
            frames += 1
        measured = frames / max(time.monotonic() - start, 1e-6)
        mode = f"{width}x{height}" + (f" at {nominal:g} fps nominal" if nominal else "")
        return mode, measured
    finally:
        cap.release()


def check_cameras(candidates: list[str | int], seconds: float = CAMERA_SECONDS) -> list[Check]:
    """A line for each camera that delivers frames; one failing line when none does."""
    found = []
    for device in candidates:
        measured = measure_camera(device, seconds)
        if measured is None:
            continue
        mode, fps = measured
        status = "ok" if fps >= 10 else "warn"
        fix = "" if status == "ok" else "light the scene better, or pick another camera with -i"
        found.append(Check(f"camera {device}", status, f"{mode}; {fps:.1f} fps measured over {seconds:g} s", fix, required=True))
    if not found:
        return [Check("camera", "fail", "no camera delivers frames", "plug one in (and check its permissions), or edit a file: decart edit -i FILE (decart doctor -i FILE checks it)", required=True)]
    if all(check.status != "ok" for check in found):
        return found
    # One working camera is enough: the others are information.
    return [check if check.status == "ok" else Check(check.name, "warn", check.detail, check.fix) for check in found]


def check_source(spec: str, width: int, height: int, fps: float, seconds: float = CAMERA_SECONDS) -> list[Check]:
    """The lines for the source a session will use: that camera measured, or the file (``sample``, ``test``) opened and read."""
    from ..media.sources import camera_of, open_source

    device = camera_of(spec)
    if device is not None:
        checks = check_cameras([device], seconds)
        if checks[0].status == "fail":
            return [Check(f"camera {device}", "fail", "it delivers no frames", "check the camera and its permissions, or edit a file: decart edit -i FILE", required=True)]
        return checks

    try:
        track = open_source(SourceConfig(spec=spec, width=width, height=height, fps=fps))
    except SourceError as exc:
        return [Check.of_error("input", "fail", exc.message, exc, required=True)]
    try:
        return [Check("input", "ok", f"{track.label}; sent as {width}x{height} at {fps:g} fps", required=True)]
    finally:
        track.stop()


def check_display(screen: Screen) -> Check:
    """Whether `decart edit` can open its window on ``screen``."""
    from ..media.window import _check_display, display_available

    if not display_available(screen):
        return Check("display", "warn", "no display: no window", fix_name="doctor_display")
    try:
        _check_display(screen)
    except DecartError as exc:
        return Check.of_error("display", "warn", exc.message, exc)
    return Check("display", "ok", "a window can open")


def check_virtual_camera() -> Check:
    """Whether `--vcam` would find a device."""
    from ..errors import VirtualCameraError
    from ..media.vcam import VirtualCamera

    try:
        device = VirtualCamera(1280, 704, 25).probe()
    except VirtualCameraError as exc:
        return Check.of_error("virtual camera", "warn", exc.message, exc)
    return Check("virtual camera", "ok", device, fix_name="doctor_vcam_ok")


def check_microphone() -> Check:
    """Whether `--audio` would find a microphone."""
    from ..errors import AudioError
    from ..media.audio import Microphone

    microphone = Microphone()
    try:
        microphone.open()
    except AudioError as exc:
        return Check("microphone", "warn", exc.message, fix_name="doctor_microphone")
    finally:
        microphone.stop()
    return Check("microphone", "ok", microphone.label, fix_name="doctor_microphone_ok")


def check_key(present: bool) -> Check:
    """The API key's presence (never its value)."""
    if present:
        return Check("API key", "ok", "set: sessions go to the hosted service")
    return Check("API key", "warn", "not set: sessions use the local server", fix_name="doctor_key")


ENGINE_PROMPTS = ("add sunglasses and change the shirt to blue", "black and white")
"""What the local engine is timed on (a face edit, the costliest kind, and a cheap one)."""


def check_engine(width: int, height: int, fps: float) -> Check:
    """The local engine's cost per frame on this machine, against the model's frame interval."""
    from ..engine import load_engine
    from ..engine.bench import time_prompts
    from ..media.clip import read_frames

    frames = read_frames("sample", width, height, 20)
    timings = time_prompts(lambda: load_engine(None), frames, ENGINE_PROMPTS)
    worst = max(t.median_ms for t in timings if not t.error)
    interval = 1000 / fps
    detail = f"{worst:.1f} ms a frame at {width}x{height} (the frame interval is {interval:.0f} ms)"
    if worst <= interval / 2:
        return Check("local engine", "ok", detail)
    return Check("local engine", "warn", detail, "this machine is slow for the local server: close other programs, or use the hosted service")


async def check_server(url: str | None, api_key: str, model: Any, transport: str, seconds: float = 2.0) -> Check:
    """Whether the server answers, takes the key, and sends edited frames back: a short media probe with its latency.

    ``url`` None probes a local server (started for the probe).
    """
    from rich.console import Console

    from .bench.run import BenchConfig, run_bench
    from ..errors import AuthError
    from ..protocol import display_url
    from ..ui.reporter import ConsoleReporter

    where = "the local server" if url is None else display_url(url)
    config = BenchConfig(model=model, duration=seconds, warmup=0.5, url=url, api_key=api_key, transport=transport, connect_timeout=10.0)
    quiet = ConsoleReporter(Console(file=io.StringIO(), force_terminal=False), live=False)
    try:
        report = await run_bench(config, quiet, machine="")
    except AuthError as exc:
        return Check.of_error("server", "fail", f"{where}: {exc.message}", exc, "check the API key", required=True)
    except DecartError as exc:
        return Check.of_error("server", "fail", f"{where}: {exc.message}", exc, "check the URL and the network", required=True)
    latency = report.latency_ms
    if not report.frames_received or latency.get("p50") is None:
        return Check("server", "fail", f"{where}: no edited frame came back in {seconds:g} s", "check that UDP can reach the server", required=True)
    first = f", first edited frame {report.connect_to_first_frame:.2f} s after connecting" if report.connect_to_first_frame else ""
    return Check("server", "ok", f"{where} over {transport}: round trip p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms{first}", required=True)

