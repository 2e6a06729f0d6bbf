"""Audio: a file's sound recorded beside the edited video, in sync; a missing microphone is one line."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import child_env, decode, run_decart

from decart_cli.media.audio import AudioTrack, file_has_audio

FLASH_AT = 2.0
"""Seconds into the clip where a white flash and a 1 kHz tone start together."""


def flash_and_tone_clip(path: Path, *, seconds: float = 4.0, fps: int = 25, size: tuple[int, int] = (1280, 704)) -> Path:
    """A clip with moving bars (so frames differ), a white flash at FLASH_AT and a tone from FLASH_AT on."""
    width, height = size
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.max_b_frames = 0
        video.options = {"preset": "ultrafast", "crf": "18"}
        audio = container.add_stream("aac", rate=48000)
        audio.codec_context.layout = "stereo"
        for i in range(int(seconds * fps)):
            t = i / fps
            img = np.full((height, width, 3), 40, np.uint8)
            x = (i * 23) % (width - 80)
            img[:, x : x + 80] = (0, 160, 220)
            img[height // 3 : height // 3 + 60, :] = (200, 80, 40)
            if FLASH_AT <= t < FLASH_AT + 0.12:
                img[:] = 255
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        total = int(seconds * 48000)
        for start in range(0, total, 1024):
            n = min(1024, total - start)
            times = (start + np.arange(n)) / 48000
            tone = (np.sin(2 * np.pi * 1000 * times) * 0.5 * (times >= FLASH_AT)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48000, start
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def onsets(path: Path) -> tuple[float, float]:
    """(first flash frame's time, the tone's onset) in a recording."""
    flash = next(t for t, f in zip(*_frames(path)) if f.mean() > 180)
    with av.open(str(path)) as container:
        chunks = [(float(f.pts * f.time_base), f.to_ndarray()[0]) for f in container.decode(audio=0)]
    samples = np.concatenate([c for _, c in chunks])
    loud = np.abs(samples) > 0.1
    return flash, chunks[0][0] + int(np.argmax(loud)) / 48000


def _frames(path: Path) -> tuple[list[float], list[np.ndarray]]:
    decoded = decode(path)
    return decoded.times, decoded.frames


def test_the_clip_itself_is_in_sync(tmp_path: Path) -> None:
    """The test clip's flash and tone start together (what the recording is measured against)."""
    clip = flash_and_tone_clip(tmp_path / "clip.mp4")
    flash, tone = onsets(clip)
    assert abs(flash - FLASH_AT) < 0.001 and abs(tone - flash) < 0.025, (flash, tone)
    assert file_has_audio(str(clip)) and not file_has_audio(str(tmp_path / "missing.mp4"))


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_files_sound_is_recorded_in_sync_with_the_edit(server, tmp_path: Path, suffix: str) -> None:
    """`decart edit -i clip -o out`: the recording has the clip's sound, and the tone starts within 40 ms of the flash."""
    clip = flash_and_tone_clip(tmp_path / "clip.mp4")
    out = tmp_path / f"out{suffix}"
    result = run_decart("edit", "-i", str(clip), "--no-show", "--no-stdin", "-o", str(out), "--url", server.url, env=child_env(), timeout=90)
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == (["video", "audio"] if suffix == ".mp4" else ["video", "audio", "subtitle"])
        assert container.streams.audio[0].codec_context.name == "aac"
    flash, tone = onsets(out)
    assert abs(tone - flash) <= 0.040, (flash, tone, result.stderr)
    assert "with sound" in result.stderr


def test_no_microphone_is_one_line_and_the_session_goes_on(server, tmp_path: Path) -> None:
    """`--audio` where no audio device exists: one warning line naming the device, then the session runs and records video only."""
    out = tmp_path / "out.mp4"
    result = run_decart("edit", "-i", "test", "--audio", "--no-show", "--no-stdin", "-o", str(out), "--duration", "2", "--url", server.url, env=child_env(), timeout=90)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    warnings = [line for line in lines if "microphone at" in line]
    assert len(warnings) == 1 and warnings[0].startswith("no microphone at default (") and warnings[0].endswith("going on without sound"), result.stderr
    assert not any("ALSA" in line for line in lines), result.stderr  # the sound library's own complaints are kept quiet
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_the_audio_track_paces_pts_and_drops_the_oldest_past_half_a_second() -> None:
    """AudioTrack stamps frames with running sample pts, and never holds more than ~0.5 s."""
    import asyncio

    async def main() -> tuple[list[int], int]:
        track = AudioTrack()
        for _ in range(40):  # 40 x 20 ms = 0.8 s queued at once
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.sample_rate = 48000
            track._put(frame)
        out = [await track.recv() for _ in range(3)]
        return [f.pts for f in out], len(track._queue) + 3

    pts, held = asyncio.run(main())
    assert pts == [0, 960, 1920] and held <= 26


def test_the_sound_goes_to_the_server_over_the_legacy_transport(tmp_path: Path) -> None:
    """Over WebRTC the file's sound is a send-only audio track: the server sees it (and reads it: nothing piles up)."""
    from conftest import serve

    clip = flash_and_tone_clip(tmp_path / "clip.mp4", seconds=2.0)
    with serve() as server:
        result = run_decart("edit", "-i", str(clip), "--no-show", "--no-stdin", "-o", str(tmp_path / "out.mp4"), "--url", server.url, env=child_env(), timeout=90)
        log = server.output()
    assert result.returncode == 0, result.stderr
    assert "the client sends audio" in log, log


def test_the_sound_goes_to_the_server_over_livekit(netns, tmp_path: Path) -> None:
    """Over today's protocol the file's sound is published to the room as a microphone track, and the recording still has it."""
    from conftest import serve

    clip = flash_and_tone_clip(tmp_path / "clip.mp4", seconds=3.0, size=(1280, 720), fps=30)
    out = tmp_path / "out.mp4"
    with serve(prefix=tuple(netns.run())) as server:
        result = run_decart("edit", "--transport", "livekit", "-i", str(clip), "--no-show", "--no-stdin", "-o", str(out), "--url", server.url, timeout=120, prefix=netns.run())
        log = server.output()
    assert result.returncode == 0, result.stderr
    assert "the client publishes audio" in log, log
    flash, tone = onsets(out)
    assert abs(tone - flash) <= 0.040, (flash, tone, result.stderr)
