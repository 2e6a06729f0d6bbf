"""Shared fixtures: a real `decart serve` child process, the CLI as a child, clips."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
URL_RE = re.compile(r"wss?://(?:127\.0\.0\.1|0\.0\.0\.0|10\.77\.0\.\d+):(\d+)")


def decart_cmd(*args: str) -> list[str]:
    """The command line that runs this checkout's `decart` with ``args``."""
    return [sys.executable, "-m", "decart_cli", *args]


PYCACHE = Path(tempfile.gettempdir()) / "decart-tests-pycache"
"""Where the children keep their compiled modules. The environment may forbid writing them beside the
sources (PYTHONDONTWRITEBYTECODE, as on these machines); compiling them again cost each `decart` started about 0.15 s."""


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child `decart`: no API key, no display unless given; compiled modules kept outside the checkout (:data:`PYCACHE`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DECART_API_KEY", "DISPLAY", "WAYLAND_DISPLAY", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def start_decart(
    *args: str,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | Path | None = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    prefix: tuple[str, ...] | list[str] = (),
    console_script: bool = False,
) -> subprocess.Popen[str]:
    """Start `decart ARGS` as a child (text streams; a Path for ``stderr`` is a file it writes; ``console_script``: the installed `decart`, as users start it) and return it at once."""
    command = [str(Path(sys.executable).with_name("decart")), *args] if console_script else decart_cmd(*args)
    with contextlib.ExitStack() as stack:
        if isinstance(stderr, Path):
            stderr = stack.enter_context(stderr.open("w"))
        return subprocess.Popen(
            [*prefix, *command],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=True,
            errors="replace",
            env=env or child_env(),
            cwd=cwd,
        )


def press_ctrl_c(proc: subprocess.Popen[str], presses: int = 1, gap: float = 0.0, *, timeout: float = 30.0) -> str:
    """Send ``presses`` SIGINTs ``gap`` seconds apart, as a person pressing Ctrl-C; wait for the child to end (killed in any case) and return its stderr."""
    try:
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
            time.sleep(gap)
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return stderr or ""


@dataclass
class ServeProcess:
    """A running `decart serve` child and what it printed."""

    proc: subprocess.Popen[str]
    url: str
    lines: list[str]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def output(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def serve(*args: str, port: int = 0, timeout: float = 30.0, cwd: Path | None = None, prefix: tuple[str, ...] = (), env_extra: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """Run `decart serve --port PORT ARGS` until the block ends; yield it once it listens.

    ``prefix`` runs it through another command, e.g. a network namespace's ``nsenter``.
    """
    proc = start_decart(
        "serve", "--host", "127.0.0.1", "--port", str(port), *args,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env(PYTHONPATH=str(REPO), **(env_extra or {})), cwd=cwd, prefix=prefix,
    )
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            match = URL_RE.search(line)
            if match and not found:
                found.append(match.group(0))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(timeout) or not found:
            raise RuntimeError("decart serve did not start:\n" + "".join(lines))
        yield ServeProcess(proc, found[0], lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def server() -> Iterator[ServeProcess]:
    """One `decart serve` (any key accepted) shared by the tests that only need a server."""
    with serve() as running:
        yield running


def run_decart(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None, timeout: float = 90, prefix: tuple[str, ...] | list[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run `decart ARGS` to completion (under ``prefix``, e.g. a network namespace; ``input``: text, or raw bytes, on stdin); stdout and stderr are captured separately."""
    if isinstance(input, bytes):
        raw = subprocess.run([*prefix, *decart_cmd(*args)], input=input, capture_output=True, env=env or child_env(), timeout=timeout)
        return subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace"))
    return subprocess.run(
        [*prefix, *decart_cmd(*args)],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=env or child_env(),
        timeout=timeout,
    )


def write_clip(path: Path, frame_at: Callable[[int], np.ndarray], *, frames: int, fps: int = 25) -> Path:
    """Encode ``frames`` BGR images ``frame_at(i)`` to an H.264 file at ``fps``."""
    first = frame_at(0)
    height, width = first.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(frames):
            img = first if i == 0 else frame_at(i)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@dataclass
class Decoded:
    """A recording decoded back with PyAV."""

    frames: list[np.ndarray]
    times: list[float]
    codec: str
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0


def decode(path: Path, *, cut_tail: bool = False) -> Decoded:
    """All frames of ``path`` as BGR arrays, with their presentation times in seconds.

    ``cut_tail``: the file's writer was killed, so its last fragment may be
    cut short; stop at the first packet that does not decode, as a player does.
    """
    frames: list[np.ndarray] = []
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="bgr24"))
                times.append(float(frame.pts * frame.time_base) if frame.pts is not None else float("nan"))
        except av.error.InvalidDataError:
            if not cut_tail:
                raise
        return Decoded(frames, times, stream.codec_context.name, stream.codec_context.width, stream.codec_context.height)


def halves_clip(path: Path, *, frames: int = 50, size: tuple[int, int] = (1280, 704), left=(30, 30, 200), right=(200, 60, 30), fps: int = 25) -> Path:
    """A clip whose left half is one colour and right half another (BGR), with light noise."""
    width, height = size
    rng = np.random.default_rng(1)
    base = np.zeros((height, width, 3), np.uint8)
    base[:, : width // 2] = left
    base[:, width // 2 :] = right

    def frame_at(i: int) -> np.ndarray:
        noise = rng.integers(-8, 9, size=base.shape, dtype=np.int16)
        return np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)

    return write_clip(path, frame_at, frames=frames, fps=fps)


def mean_bgr(img: np.ndarray) -> np.ndarray:
    """Mean colour of an image region as float BGR."""
    return img.reshape(-1, 3).mean(axis=0)


BARS = slice(515, 615)  # rows of the test pattern's static colour bars


def bar_means(img: np.ndarray) -> np.ndarray:
    """Mean BGR of each of the test pattern's eight colour bars."""
    width = img.shape[1]
    return np.array([mean_bgr(img[BARS, i * width // 8 + 20 : (i + 1) * width // 8 - 20]) for i in range(8)])


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """A failure is one `error:` line with the given words, the exit code, and no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for needle in needles:
        assert needle.lower() in errors[0].lower(), output


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def require(*tools: str) -> None:
    """Skip (or, when CI is set, fail) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        reason = f"needs {', '.join(missing)} (apt-get install xvfb xdotool imagemagick)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)


@dataclass
class NetNamespace:
    """A private network namespace (see the ``netns`` fixture); :meth:`run` gives a command that runs in it."""

    pid: int

    def run(self, *command: str) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-n", *command]


@pytest.fixture(scope="module")
def netns() -> Iterator[NetNamespace]:
    """A network namespace of our own (``tools/in-netns``): lo up, plus a veth pair 10.77.0.1/24 <-> 10.77.0.2/24.

    LiveKit's client (libwebrtc) gathers no loopback candidates, so on a host
    with nothing but lo it cannot connect at all; inside this namespace it
    finds the veth addresses, and nothing it sends can leave the namespace.
    Needs root (CI is root) and util-linux's unshare/nsenter and iproute2.
    """
    missing = [tool for tool in ("unshare", "nsenter", "ip") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        reason = f"needs root and {', '.join(missing) or 'unshare, nsenter, ip'} for a private network namespace"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    proc = subprocess.Popen(
        [str(REPO / "tools" / "in-netns"), "sh", "-c", "echo ready && exec sleep 3600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            proc.kill()
            pytest.fail(f"could not set up a network namespace: {proc.stderr.read() if proc.stderr else ''}")
        yield NetNamespace(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def screenshot(display: str, path: Path) -> np.ndarray:
    """The root window of ``display`` as a BGR image, also saved to ``path`` (and copied to $DECART_WINDOW_SHOT if set)."""
    import cv2  # here, not at the top: this process loads PyAV first (see tests/test_window.py)

    subprocess.run(["import", "-display", display, "-window", "root", f"png:{path}"], check=True, timeout=20)
    shot = os.environ.get("DECART_WINDOW_SHOT")
    if shot:
        shutil.copy(path, shot)
    image = cv2.imread(str(path))
    assert image is not None
    return image


def decart_window(env: dict[str, str]) -> str:
    """The X id of a window whose name starts with "decart" on ``env``'s DISPLAY, or "" while there is none."""
    found = subprocess.run(["xdotool", "search", "--name", "^decart"], capture_output=True, text=True, env=env).stdout.split()
    return found[0] if found else ""


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private Xvfb (1600x1000x24) on a free display number, kept from resetting when its last client leaves (a test's own xdotool calls come and go); yields its DISPLAY."""
    require("Xvfb", "xdotool", "import")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            timer = threading.Timer(10, proc.kill)
            timer.start()
            number = pipe.readline().strip()
            timer.cancel()
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number.decode()}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# In-process servers (real sockets on port 0) for protocol-level tests.


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test when anything logged a traceback at info level or above (what `decart serve` shows by default).

    A branch that handles bad input answers it and logs one line; a
    traceback in the log means a handler failed instead (or its log line did).
    """
    caplog.set_level(logging.INFO)
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    failed = [record for record in records if record.exc_info and record.levelno >= logging.INFO]
    assert not failed, "tracebacks in the log: " + "; ".join(f"{r.name}: {r.getMessage()} ({r.exc_info[1]!r})" for r in failed if r.exc_info)


def with_server(test: Callable[..., Awaitable[None]], **config: object) -> None:
    """Run ``test(server)`` against a fresh in-process `decart serve` on a free loopback port."""
    from decart_cli.config import ServeConfig
    from decart_cli.server import Server

    async def main() -> None:
        server = Server(ServeConfig(host="127.0.0.1", port=0, **config))  # type: ignore[arg-type]
        await server.start()
        try:
            await asyncio.wait_for(test(server), 30)
        finally:
            await server.stop()

    asyncio.run(main())


def stream(server, key: str = "k", model: str = "lucy_v2v_720p_rt") -> str:  # type: ignore[no-untyped-def]
    """The stream URL of an in-process server."""
    from decart_cli.protocol import stream_url

    return stream_url(server.url, api_key=key, model=model)


async def recv_json(ws, timeout: float = 5) -> dict:  # type: ignore[no-untyped-def]
    """The next WebSocket message, decoded."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, kind: str, timeout: float = 5) -> dict:  # type: ignore[no-untyped-def]
    """The next message of type ``kind``, skipping others."""
    while True:
        message = await recv_json(ws, timeout)
        if message["type"] == kind:
            return message


class Editing:
    """A running `decart edit` (run under ``prefix``, e.g. a network namespace): its stderr and stdout as they come, and its stdin."""

    def __init__(self, *args: str, prefix: tuple[str, ...] = (), cwd: Path | None = None) -> None:
        self.proc = start_decart("edit", *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, prefix=prefix)
        self.lines: list[str] = []
        self.out_lines: list[str] = []
        """What it printed on stdout: lines meant to be copied (the watch command)."""
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out_lines), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    @property
    def stdout(self) -> str:
        return "".join(self.out_lines)

    def wait_for(self, text: str, timeout: float = 30, *, stdout: bool = False) -> None:
        """Wait until stderr (or stdout) shows ``text``; fail if it never does or the process ends."""
        deadline = time.monotonic() + timeout
        while text not in (self.stdout if stdout else self.stderr):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"`decart edit` never printed {text!r}:\n{self.stderr}\nstdout:\n{self.stdout}")
            time.sleep(0.05)

    def watch_command(self, timeout: float = 30) -> list[str]:
        """The `decart watch ...` command it printed on stdout (after its caption on stderr), as words."""
        self.wait_for("decart watch ", timeout, stdout=True)
        assert "watch it live from another terminal:" in self.stderr, self.stderr
        return next(line for line in self.out_lines if line.startswith("decart watch ")).split()

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 90) -> int:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        time.sleep(0.1)
        return code


@dataclass(frozen=True)
class TlsFiles:
    """A test certificate authority and a server certificate it signed (PEM files) for localhost, 127.0.0.1 and 10.77.0.1."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """Write a CA and a server certificate and key into ``directory`` (cryptography: aiortc's own dependency)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key, issuer: str, signer, *, ca: bool) -> x509.Certificate:  # type: ignore[no-untyped-def]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.DNSName("localhost"), *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.77.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    files.ca.write_bytes(certificate("decart test CA", ca_key, "decart test CA", ca_key, ca=True).public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(certificate("localhost", server_key, "decart test CA", ca_key, ca=False).public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files
