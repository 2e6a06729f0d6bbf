"""Bad input gets one clear `error:` line, the right exit code, no traceback, and never the key."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from conftest import assert_clean_failure, child_env, halves_clip, run_decart, serve

SECRET = "sk-live-THIS-MUST-NOT-LEAK-42"


def test_missing_file(tmp_path: Path) -> None:
    """A nonexistent input file is a usage error naming the file."""
    result = run_decart("edit", "-i", str(tmp_path / "nope.mp4"), "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "no such file", "nope.mp4")


def test_text_file_is_not_video(tmp_path: Path) -> None:
    """A text file given as video is a usage error saying it cannot be read as video."""
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n" * 100)
    result = run_decart("edit", "-i", str(notes), "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "notes.txt", "video")


def test_unknown_camera(tmp_path: Path) -> None:
    """A camera index that does not exist is a usage error that suggests another input."""
    result = run_decart("edit", "-i", "7", "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "camera 7")
    assert "-i test" in result.stderr or "file" in result.stderr


def test_unknown_model(tmp_path: Path) -> None:
    """An unknown model is a usage error listing the known ones."""
    result = run_decart("edit", "-i", "test", "-m", "lucy_9000", "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "lucy_9000", "lucy_v2v_720p_rt", "mirage")


def test_unreachable_server(tmp_path: Path) -> None:
    """A server that refuses connections is a runtime failure that says to check --url."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_decart("edit", "-i", "test", "--no-show", "-o", str(tmp_path / "o.mp4"), "--url", f"ws://127.0.0.1:{port}", "--api-key", SECRET)
    assert_clean_failure(result, 1, "cannot connect", "--url")
    assert SECRET not in result.stdout + result.stderr


def test_bad_url_scheme(tmp_path: Path) -> None:
    """A URL that is not ws/wss/http/https is a usage error."""
    result = run_decart("edit", "-i", "test", "--no-show", "-o", str(tmp_path / "o.mp4"), "--url", f"ftp://example.com?api_key={SECRET}")
    assert_clean_failure(result, 2, "ws://")
    assert SECRET not in result.stdout + result.stderr


def test_rejected_key_never_shows_the_key(tmp_path: Path) -> None:
    """A wrong key is a runtime failure saying to check the key; the key appears nowhere, even with -vv."""
    with serve("--api-key", "the-right-key") as server:
        result = run_decart(
            "edit", "-vv", "-i", "test", "--no-show", "-o", str(tmp_path / "o.mp4"), "--url", server.url,
            env=child_env(DECART_API_KEY=SECRET),
        )
        server_output = server.output()
    assert_clean_failure(result, 1, "rejected the api key", "DECART_API_KEY")
    assert SECRET not in result.stdout + result.stderr
    assert SECRET not in server_output and "the-right-key" not in server_output
    assert not (tmp_path / "o.mp4").exists()


def test_refused_initial_prompt(server, tmp_path: Path) -> None:
    """An initial prompt the server cannot do fails with the server's reason (the nearest edits it can do)."""
    result = run_decart("edit", "-i", "test", "-p", "remove the tree", "--no-show", "-o", str(tmp_path / "o.mp4"), "--url", server.url)
    assert_clean_failure(result, 1, "prompt refused", "remove the tree", "nearest: ", "/help edits (or decart models --edits) lists every edit")


def test_too_long_prompt(tmp_path: Path) -> None:
    """A 10 kB -p prompt is a usage error naming the 1,000-character limit, before anything connects."""
    result = run_decart("edit", "-i", "test", "-p", "x" * 10_000, "--no-show", "-o", str(tmp_path / "o.mp4"), "--url", "ws://127.0.0.1:9")
    assert_clean_failure(result, 2, "10000 characters", "limit is 1000", "-p")
    assert "cannot connect" not in result.stderr


def test_bad_output_suffix(tmp_path: Path) -> None:
    """Recording to an unsupported container is a usage error naming the ones that work."""
    result = run_decart("edit", "-i", "test", "--no-show", "-o", str(tmp_path / "o.avi"))
    assert_clean_failure(result, 2, ".mp4", ".mkv")


def test_output_directory_missing(tmp_path: Path) -> None:
    """Recording into a directory that does not exist is a usage error."""
    result = run_decart("edit", "-i", "test", "--no-show", "-o", str(tmp_path / "no" / "such" / "o.mp4"))
    assert_clean_failure(result, 2, "director")


def test_show_without_display(tmp_path: Path) -> None:
    """--show with no display is a usage error suggesting --no-show."""
    result = run_decart("edit", "-i", "test", "--show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "no display", "--no-show")


def test_nothing_to_do() -> None:
    """No window and no recording is a usage error that says what to add."""
    result = run_decart("edit", "-i", "test", "--no-show")
    assert_clean_failure(result, 2, "-o")


def test_bad_fit_is_a_usage_error() -> None:
    """An unknown --fit value is rejected by the option parser with exit 2."""
    result = run_decart("edit", "-i", "test", "--no-show", "--fit", "squash", "-o", "x.mp4")
    assert result.returncode == 2
    assert "crop" in result.stderr and "Traceback" not in result.stderr


def test_serve_port_in_use() -> None:
    """`decart serve` on a busy port fails with one line suggesting another port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_decart("serve", "--port", str(port))
    assert_clean_failure(result, 1, "already in use", "--port")


def test_serve_bad_engine() -> None:
    """`decart serve --engine` with an unloadable engine is a usage error."""
    result = run_decart("serve", "--port", "0", "--engine", "no_such_module:Engine")
    assert_clean_failure(result, 2, "no_such_module")


def test_help_does_not_show_the_key() -> None:
    """`decart edit --help` names DECART_API_KEY but never prints its value."""
    result = run_decart("edit", "--help", env=child_env(DECART_API_KEY=SECRET))
    assert result.returncode == 0
    assert "DECART_API_KEY" in result.stdout and SECRET not in result.stdout


def test_models_lists_the_registry() -> None:
    """`decart models` prints each model with its fps and size."""
    result = run_decart("models")
    assert result.returncode == 0
    for row in ("lucy_v2v_720p_rt", "1280x704", "mirage_v2", "22", "lucy_2_rt", "1280x720"):
        assert row in result.stdout


def test_models_shows_both_generations() -> None:
    """`decart models` (200 columns) lists today's models at 30 fps with their protocol, aliases and the fast tier."""
    result = run_decart("models")
    assert result.returncode == 0
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 5}
    for name in ("lucy-2.1", "lucy-2.5", "lucy-2.6", "lucy-latest", "lucy-vton-3.6", "lucy-restyle-2", "lucy-restyle-latest"):
        assert "today's (LiveKit)" in rows[name] and " 30 " in rows[name], rows.get(name)
    assert "legacy (WebRTC)" in rows["lucy_v2v_720p_rt"] and "default locally" in rows["lucy_v2v_720p_rt"]
    assert "1280x704" in rows["lucy-restyle-2"] and "alias of lucy-2.6" in rows["lucy-latest"] and "speed=fast" in rows["lucy-2.6"]


def test_models_fit_80_columns_with_whole_names() -> None:
    """At 80 columns every line fits and every model name is whole (the longest, lucy-restyle-latest, included)."""
    from decart_cli.models import MODELS

    result = run_decart("models", env=child_env(COLUMNS="80"))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    names = {line.split()[0] for line in lines if line.strip() and line.startswith(" ")}
    assert set(MODELS) <= names, set(MODELS) - names


def test_a_model_of_the_other_generation_than_the_transport_is_a_usage_error() -> None:
    """-m of one protocol generation with --transport of the other stops before starting (exit 2), naming the models that fit."""
    result = run_decart("edit", "-m", "lucy-2.6", "--transport", "webrtc", "-i", "test", "--no-show", "-o", "/tmp/never.mp4")
    assert result.returncode == 2
    assert "lucy-2.6 speaks today's protocol (livekit), not --transport webrtc" in result.stderr and "lucy_v2v_720p_rt" in result.stderr
    result = run_decart("edit", "-m", "mirage", "--transport", "livekit", "-i", "test", "--no-show", "-o", "/tmp/never.mp4")
    assert result.returncode == 2
    assert "mirage speaks the legacy protocol (webrtc)" in result.stderr and "lucy-restyle-2" in result.stderr
    assert "Traceback" not in result.stderr


def test_image_errors_are_usage_errors(tmp_path: Path) -> None:
    """--image: a missing file, a non-image, or a model that takes none: one line, exit 2, before anything starts."""
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    cases = [
        (("-m", "lucy-2.6", "--image", str(tmp_path / "missing.png")), "no image at"),
        (("-m", "lucy-2.6", "--image", str(not_image)), "is not an image"),
        (("-m", "lucy-restyle-2", "--image", str(not_image)), "takes no reference image"),
    ]
    for args, text in cases:
        result = run_decart("edit", *args, "-i", "test", "--no-show", "-o", str(tmp_path / "o.mp4"))
        assert result.returncode == 2 and text in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert not (tmp_path / "o.mp4").exists()


def test_refused_prompt_mid_session_keeps_going(server, tmp_path: Path) -> None:
    """A refused prompt on stdin is reported as a warning; the session and recording go on."""
    clip = halves_clip(tmp_path / "c.mp4", frames=25)
    out = tmp_path / "o.mp4"
    result = run_decart("edit", "-i", str(clip), "--loop", "--no-show", "-o", str(out), "--duration", "2", "--url", server.url, input="remove the tree\n")
    assert result.returncode == 0, result.stderr
    assert "remove the tree" in result.stderr and "previous edit stays" in result.stderr
    assert out.stat().st_size > 10_000


def test_edit_help_reads_at_80_columns() -> None:
    """`decart edit --help` at 80 columns: options in Input / Output / Server / Session panels, no line wider than 80, help text at least 30 columns wide, bracketed defaults shown (not eaten as markup)."""
    result = run_decart("edit", "--help", env=child_env(COLUMNS="80", TERM="dumb"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    panels = [line.split("─ ")[1].split(" ─")[0] for line in lines if line.startswith("╭─ ")]
    assert panels == ["Options", "Input", "Output", "Server", "Session"], panels
    # The help column starts early enough to leave room: where "--prompt" is described.
    prompt_line = next(line for line in lines if "--prompt" in line)
    assert prompt_line.index("Initial") <= 80 - 30 - 2, prompt_line
    text = " ".join(" ".join(lines).replace("│", " ").split())
    assert "[default: lucy_v2v_720p_rt locally, lucy-latest on the hosted service]" in text


@pytest.mark.parametrize("command", [["edit"], ["watch"], ["serve"], ["models"], ["bench"], ["bench", "engine"], ["doctor"], []])
def test_help_names_every_value_and_shows_an_example(command: list[str]) -> None:
    """Every --help at 80 columns: no type placeholders (`<bool>`, `<int>`, `<float range>`, `[x>=0]`), flags and -v show no value, and an example line (commands)."""
    result = run_decart(*command, "--help", env=child_env(COLUMNS="80", TERM="dumb"))
    assert result.returncode == 0, result.stderr
    assert not re.search(r"<(?:bool|int|float|str|text|path)[^>]*>|\[x[<>]=", result.stdout), result.stdout
    for line in result.stdout.splitlines():
        if "--help" in line:
            assert re.search(r"--help\s+-h\s+Show this", line), line
        if "--verbose" in line:
            assert re.search(r"--verbose\s+-v\s+More", line), line
    if command:
        assert "Example: decart " + " ".join(command) in result.stdout


def test_no_flag_names_below_the_cli() -> None:
    """Below decart_cli/cli no string literal (docstrings aside) names a command-line flag: lower layers say what to fix by name, the CLI words it."""
    import ast
    import re

    root = Path(__file__).resolve().parent.parent / "decart_cli"
    found = []
    for path in root.rglob("*.py"):
        if "cli" in path.relative_to(root).parts[:1]:
            continue
        tree = ast.parse(path.read_text())
        # Docstrings, of modules, classes, functions and attributes: every string that is a statement of its own.
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
                if re.fullmatch(r"--?[a-z][a-z-]*", text):  # one argv element (a child process's command line)
                    continue
                if re.search(r"(?<![\w-])--[a-z][a-z-]*", text) or re.search(r"(?<![\w-])-[a-z] [a-z]", text):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {text[:70]!r}")
    assert not found, "\n".join(found)


def test_version_names_decart_and_the_media_libraries() -> None:
    """`decart --version` (and -V) prints one line on stdout: decart's version, Python's and the media libraries', exit 0."""
    from importlib.metadata import version

    for flag in ("--version", "-V"):
        result = run_decart(flag)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        line = result.stdout.strip()
        assert re.fullmatch(r"decart \d+\.\d+\.\d+ \(Python 3\.\d+\.\d+; aiortc [\d.]+, livekit [\d.]+, av [\d.]+, opencv [\d.]+\)", line), line
        assert f"aiortc {version('aiortc')}" in line


def test_a_bad_input_is_said_without_loading_the_server(tmp_path: Path) -> None:
    """The CLI loads without the server (its modules, aiohttp): `decart edit -i MISSING` says its error before any of them is imported."""
    probe = tmp_path / "sitecustomize.py"  # at exit, which of the server's modules were loaded
    probe.write_text("import atexit, sys\natexit.register(lambda: print('loaded:', sorted(m for m in ('decart_cli.server', 'aiohttp') if m in sys.modules), file=sys.stderr))\n")
    result = run_decart("edit", "-i", str(tmp_path / "missing.mp4"), "-p", "x", "-o", str(tmp_path / "out.mp4"), env=child_env(PYTHONPATH=str(tmp_path)))
    assert result.returncode == 2 and "no such file" in result.stderr, result.stderr
    assert "loaded: []" in result.stderr, result.stderr


def test_readme_tables_end_before_their_text() -> None:
    """In the README a table is followed by a blank line, so the next sentence is a paragraph, not a broken table row."""
    lines = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8").splitlines()
    for number, (line, following) in enumerate(zip(lines, lines[1:]), start=2):
        if line.startswith("|"):
            assert following.startswith("|") or not following.strip(), f"README.md:{number}: {following!r} follows a table row"
