"""The ``voxserve`` command: say (argument and stdin), voices, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.audio_tools import decode_audio

pytestmark = pytest.mark.e2e

VOXSERVE = [sys.executable, "-m", "voxserve"]


def test_say_to_wav(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    subprocess.run([*VOXSERVE, "say", "Hello there.", "-o", str(out)], check=True, timeout=120)
    samples, rate = decode_audio(out.read_bytes())
    assert rate == 22050 and 0.5 < len(samples) / rate < 3.0


def test_say_from_stdin_as_opus(tmp_path: Path) -> None:
    out = tmp_path / "out.ogg"
    text = "This is a longer text. It has three sentences! Does it work?"
    subprocess.run([*VOXSERVE, "say", "-", "--format", "opus", "-o", str(out)],
                   input=text.encode(), check=True, timeout=120)
    samples, rate = decode_audio(out.read_bytes(), audio_format="ogg")
    assert len(samples) / rate > 2.5


def test_say_to_stdout(tmp_path: Path) -> None:
    result = subprocess.run([*VOXSERVE, "say", "Hi.", "--format", "mp3"], capture_output=True,
                            check=True, timeout=120)
    samples, _rate = decode_audio(result.stdout, audio_format="mp3")
    assert len(samples) > 0


def test_say_bad_input_exits_2() -> None:
    result = subprocess.run([*VOXSERVE, "say", "Hi.", "--voice", "nobody", "-o", "/dev/null"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "nobody" in result.stderr


def test_voices_lists_bundled_voice() -> None:
    result = subprocess.run([*VOXSERVE, "voices"], capture_output=True, text=True, check=True,
                            timeout=120)
    assert "en_US-joe-medium" in result.stdout


def test_version_and_short_help() -> None:
    version = subprocess.run([*VOXSERVE, "--version"], capture_output=True, text=True,
                             check=True, timeout=60)
    from voxserve import __version__

    assert version.stdout.strip() == f"voxserve {__version__}"
    for command in ([], ["serve"], ["say"], ["keys", "create"]):
        short = subprocess.run([*VOXSERVE, *command, "-h"], capture_output=True, text=True,
                               timeout=60)
        assert short.returncode == 0 and short.stdout.startswith("Usage:"), command


def test_help_shows_metavars_and_defaults() -> None:
    serve = subprocess.run([*VOXSERVE, "serve", "--help"], capture_output=True, text=True,
                           check=True, timeout=60).stdout
    assert "--host HOST" in serve and "[default: 127.0.0.1]" in serve
    assert "--port PORT" in serve and "[default: 8000]" in serve
    say = subprocess.run([*VOXSERVE, "say", "--help"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "say [OPTIONS] TEXT" in say and "-o, --output FILE" in say
    assert "<bool>" not in say and "{text}" not in say.lower() and "<str>" not in say
    assert "\x1b" not in say  # plain text, no colour codes


def test_say_refuses_to_write_audio_to_a_terminal(tmp_path: Path) -> None:
    """Without -o on a terminal it says how to save instead of printing raw WAV bytes."""
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        result = subprocess.run([*VOXSERVE, "say", "hi"], stdout=terminal, stderr=subprocess.PIPE,
                                text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 2
    assert "-o FILE" in result.stderr and "terminal" in result.stderr
