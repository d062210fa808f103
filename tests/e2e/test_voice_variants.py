"""``voxserve models optimize``: the INT8 variant is a voice of its own that the server lists
and speaks intelligibly (pocketsphinx says the words)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.asr import harvard_sentences, transcribe, word_error_rate
from tests.audio_tools import decode_audio
from tests.conftest import free_port, wait_ready

pytestmark = pytest.mark.e2e

VOXSERVE = [sys.executable, "-m", "voxserve"]


def test_optimize_writes_an_int8_voice_the_server_lists_and_speaks(tmp_path: Path) -> None:
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data")}
    written = subprocess.run([*VOXSERVE, "models", "optimize", "joe", "--int8"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert written.returncode == 0, written.stderr
    model = tmp_path / "data" / "models" / "en_US-joe-medium@int8.onnx"
    assert model.is_file() and model.with_name(model.name + ".json").is_file()
    assert written.stdout.startswith("en_US-joe-medium@int8\t")
    again = subprocess.run([*VOXSERVE, "models", "optimize", "joe", "--int8"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--force" in again.stderr  # never overwritten silently
    unknown = subprocess.run([*VOXSERVE, "models", "optimize", "nobody", "--int8"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 2 and "nobody" in unknown.stderr

    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([*VOXSERVE, "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process, timeout_s=120)
        voices = httpx.get(f"{base_url}/v1/voices", timeout=10).json()["data"]
        by_id = {voice["id"]: voice for voice in voices}
        assert "en_US-joe-medium" in by_id and "joe" in by_id["en_US-joe-medium"]["aliases"]
        assert "joe@int8" in by_id["en_US-joe-medium@int8"]["aliases"]
        sentences = harvard_sentences()[5::60]
        pairs = []
        for sentence in sentences:
            response = httpx.post(f"{base_url}/v1/audio/speech", json={
                "voice": "joe@int8", "input": sentence, "response_format": "wav",
                "sample_rate": 16000}, timeout=60)
            assert response.status_code == 200, response.text
            assert response.headers["x-voxserve-voice"] == "en_US-joe-medium@int8"
            samples, rate = decode_audio(response.content)
            pairs.append((sentence, transcribe(samples, rate, tmp_path)))
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
    assert word_error_rate(pairs) <= 0.25, pairs
    shifted = [(pairs[(i + 1) % len(pairs)][0], pairs[i][1]) for i in range(len(pairs))]
    assert word_error_rate(shifted) > 0.7  # control: the transcripts are not just any sentence
