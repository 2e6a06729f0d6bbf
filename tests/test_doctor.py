"""`decart doctor` on this machine: no camera, no display unless Xvfb runs; what to fix for each; exit codes for both outcomes."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import child_env, run_decart

from decart_cli.diagnose import doctor


def run_doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    result = run_decart("doctor", "--json", "--camera-seconds", "0.5", *args, env=env or child_env(), timeout=120)
    return result.returncode, json.loads(result.stdout), result.stderr


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def test_this_machine_has_no_camera_so_a_session_would_not_work() -> None:
    """No camera and no display here: the camera fails (with the fix), the display warns, the local server and engine pass; exit 1."""
    code, report, stderr = run_doctor()
    assert code == 1 and report["would_work"] is False, stderr
    checks = by_name(report)
    assert checks["camera"]["status"] == "fail" and "decart edit -i FILE" in checks["camera"]["fix"]
    assert checks["display"]["status"] == "warn" and "--no-show" in checks["display"]["fix"]
    assert checks["virtual camera"]["status"] == "warn" and "modprobe v4l2loopback" in checks["virtual camera"]["fix"]
    assert checks["microphone"]["status"] == "warn"
    assert checks["API key"]["status"] == "warn" and "DECART_API_KEY" in checks["API key"]["fix"]
    assert checks["server"]["status"] == "ok" and "round trip p50" in checks["server"]["detail"]
    assert checks["local engine"]["status"] == "ok"


def test_with_xvfb_the_display_passes(xvfb: str) -> None:
    """Under Xvfb the display check passes (the rest as before)."""
    code, report, _ = run_doctor(env=child_env(DISPLAY=xvfb))
    assert code == 1 and by_name(report)["display"]["status"] == "ok"


def test_a_key_is_reported_present_never_shown_and_a_rejected_key_fails(tmp_path: Path) -> None:
    """A key the server rejects: the server check fails saying so; the key's value appears nowhere."""
    from conftest import serve

    secret = "sk-doctor-0123456789"
    with serve("--api-key", "the-right-one") as server:
        result = run_decart("doctor", "--json", "--camera-seconds", "0.5", "--url", server.url, env=child_env(DECART_API_KEY=secret), timeout=120)
    report = json.loads(result.stdout)
    checks = by_name(report)
    assert checks["API key"]["status"] == "ok"
    assert checks["server"]["status"] == "fail" and "key" in checks["server"]["detail"], checks["server"]
    assert secret not in result.stdout and secret not in result.stderr


class FakeCamera:
    """cv2.VideoCapture for a camera that cannot exist here: 640x480 frames at 30 fps."""

    def __init__(self, device: object, *args: object) -> None:
        self.device = device
        self.next_at = time.monotonic()

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def read(self) -> tuple[bool, np.ndarray]:
        self.next_at += 1 / 30
        time.sleep(max(0.0, self.next_at - time.monotonic()))
        return True, np.zeros((480, 640, 3), np.uint8)

    def get(self, prop: int) -> float:
        return 30.0

    def release(self) -> None:
        pass


def test_with_a_camera_a_session_would_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a camera (faked at OpenCV's boundary) and the local server answering, doctor exits 0 and reports the measured rate."""
    from typer.testing import CliRunner

    from decart_cli.cli import app

    (tmp_path / "video0").touch()
    monkeypatch.setattr(doctor, "DEV", str(tmp_path))
    monkeypatch.setattr(doctor.cv2, "VideoCapture", FakeCamera)
    # The command sets up logging to its (captured, then closed) stderr: put the test process's back after it.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    result = CliRunner().invoke(app, ["doctor", "--json", "--camera-seconds", "1"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["would_work"] is True, result.output
    camera = by_name(report)[f"camera {tmp_path / 'video0'}"]
    assert camera["status"] == "ok" and "640x480" in camera["detail"]
    measured = float(camera["detail"].split("; ")[1].split(" fps")[0])
    assert 25 <= measured <= 31


def test_a_file_input_makes_a_session_work_without_a_camera() -> None:
    """-i sample on this camera-less machine: the input line passes instead of the cameras, so a session would work (exit 0)."""
    code, report, stderr = run_doctor("-i", "sample")
    assert code == 0 and report["would_work"] is True, stderr
    checks = by_name(report)
    assert "camera" not in checks
    assert checks["input"]["status"] == "ok" and "sample clip" in checks["input"]["detail"] and "1280x704" in checks["input"]["detail"]


def test_a_bad_input_fails_with_the_sources_own_fix(tmp_path: Path) -> None:
    """-i of a missing file: the input line fails with why and what to do; -i of an absent camera names that camera."""
    nowhere = ("--url", "ws://127.0.0.1:9")  # the server check fails at once: only the input line is looked at
    code, report, _ = run_doctor("-i", str(tmp_path / "missing.mp4"), *nowhere)
    checks = by_name(report)
    assert code == 1 and checks["input"]["status"] == "fail" and "no such file" in checks["input"]["detail"] and checks["input"]["fix"]
    code, report, _ = run_doctor("-i", "3", *nowhere)
    checks = by_name(report)
    assert code == 1 and checks["camera 3"]["status"] == "fail" and "decart edit -i FILE" in checks["camera 3"]["fix"]
