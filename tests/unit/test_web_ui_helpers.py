"""The web UI's pure helpers (``ui.js``) run under Node, where it is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

UI_JS = Path(__file__).resolve().parents[2] / "src" / "voxserve" / "api" / "web" / "ui.js"
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_format_seconds_rounds_before_choosing_the_unit() -> None:
    """Issue 23's UI list: 119.6 s was "1 min 60 s" and 59.96 s was "60.0 s"."""
    cases = {"2.9": "2.90 s", "9.996": "10.0 s", "12.34": "12.3 s", "59.96": "1 min 0 s",
             "60": "1 min 0 s", "119.6": "2 min 0 s", "185": "3 min 5 s",
             "3599.6": "1 h 0 min", "3720": "1 h 2 min", "null": "–"}
    script = (f"import {{ formatSeconds, formatBytes }} from {json.dumps(UI_JS.as_uri())};"
              f"const cases = {json.dumps(list(cases))};"
              "console.log(JSON.stringify({seconds: cases.map((c) => formatSeconds(JSON.parse(c))),"
              " bytes: [80, 1, 1536, 3 * 1024 * 1024].map(formatBytes)}));")
    result = subprocess.run([NODE or "node", "--input-type=module", "-e", script],
                            capture_output=True, text=True, check=True, timeout=30)
    out = json.loads(result.stdout)
    assert dict(zip(cases, out["seconds"], strict=True)) == cases
    assert out["bytes"] == ["80 bytes", "1 byte", "1.5 KiB", "3.0 MiB"]


WORDS_JS = UI_JS.with_name("words.js")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_cue_words_read_the_word_vtt_timestamps() -> None:
    """``cueWords``: the text before the first timestamp starts with the cue, each
    timestamp starts the text after it; character references are read, spaces collapsed."""
    text = "Hello <00:00:01.500>&lt;big&gt;\n<00:00:02.000>world. <01:02:03.040>x"
    script = (f"import {{ cueWords }} from {json.dumps(WORDS_JS.as_uri())};"
              f"console.log(JSON.stringify(cueWords({json.dumps(text)}, 1.0)));")
    result = subprocess.run([NODE or "node", "--input-type=module", "-e", script],
                            capture_output=True, text=True, check=True, timeout=30)
    words = json.loads(result.stdout)
    assert [(w["start"], w["text"].strip()) for w in words] == [
        (1.0, "Hello"), (1.5, "<big>"), (2.0, "world."), (3723.04, "x")]
