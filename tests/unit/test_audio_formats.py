"""The one table of formats: MIME types and extensions agree everywhere they are used."""

from __future__ import annotations

import pytest

from voxserve.audio import (
    content_type_for,
    content_type_for_extension,
    content_type_for_file,
    create_encoder,
    extension_for,
)
from voxserve.types import AudioFormat


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_a_stream_and_its_file_have_the_same_type(audio_format: AudioFormat) -> None:
    stored = f"speech/abc.{extension_for(audio_format)}"
    assert content_type_for_file(stored) == content_type_for(audio_format)
    assert create_encoder(audio_format, 24000).content_type == content_type_for(audio_format)


def test_opus_streams_are_ogg_files_and_aac_is_adts() -> None:
    assert extension_for(AudioFormat.OPUS) == "ogg"
    assert (extension_for(AudioFormat.AAC), content_type_for(AudioFormat.AAC)) == (
        "aac", "audio/aac")


def test_other_files_and_unknown_ones() -> None:
    assert content_type_for_extension("m4b") == "audio/mp4"
    assert content_type_for_file("book.vtt") == "text/vtt; charset=utf-8"
    assert content_type_for_file("manifest.json") == "application/json"
    assert content_type_for_file("no-extension") == "application/octet-stream"
    assert content_type_for_file("x.exe") == "application/octet-stream"
