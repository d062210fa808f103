"""The Piper engine on the real bundled voice."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voxserve.engines.base import (
    Engine,
    InterruptibleEngine,
    SynthesisParams,
    create_engine,
    parse_options,
)
from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.piper import PiperEngine, PiperOptions, bundled_voice_files
from voxserve.errors import (
    ConfigurationError,
    EngineFailed,
    EngineLoadError,
    InvalidOption,
    VoiceNotFound,
)
from voxserve.settings import Settings

JOE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def piper(catalog: EngineCatalog) -> Engine:
    return catalog.engine("piper")


def _duration_s(engine: Engine, text: str, **params: object) -> float:
    chunks = list(engine.synthesize(text, JOE, SynthesisParams(**params)))  # type: ignore[arg-type]
    return sum(chunk.duration_s for chunk in chunks)


def test_engine_satisfies_protocol(piper: Engine) -> None:
    assert isinstance(piper, Engine)
    assert piper.capabilities.batching_gain is False


def test_bundled_voice_is_discovered(piper: Engine) -> None:
    voices = {voice.id: voice for voice in piper.voices()}
    assert JOE in voices
    joe = voices[JOE]
    assert joe.sample_rate_hz == 22050
    assert joe.language == "en_US"
    assert "joe" in joe.aliases


def test_synthesize_yields_float32_speech(piper: Engine) -> None:
    chunks = list(piper.synthesize("The birch canoe slid on the smooth planks.", JOE,
                                   SynthesisParams()))
    assert chunks
    samples = np.concatenate([chunk.samples for chunk in chunks])
    assert samples.dtype == np.float32
    assert all(chunk.sample_rate_hz == 22050 for chunk in chunks)
    assert 1.0 < len(samples) / 22050 < 5.0
    assert float(np.sqrt(np.mean(samples**2))) > 0.02  # not silence
    assert float(np.max(np.abs(samples))) <= 1.0


def test_speed_changes_duration(piper: Engine) -> None:
    text = "Glue the sheet to the dark blue background."
    normal = _duration_s(piper, text)
    fast = _duration_s(piper, text, speed=2.0)
    slow = _duration_s(piper, text, speed=0.5)
    assert fast < normal * 0.7
    assert slow > normal * 1.5


def test_noise_options_are_applied(piper: Engine) -> None:
    text = "Rice is often served in round bowls."
    options = parse_options(piper, {"noise_scale": 0.0, "noise_w_scale": 0.0})
    first = np.concatenate([c.samples for c in piper.synthesize(text, JOE, SynthesisParams(
        options=options))])
    second = np.concatenate([c.samples for c in piper.synthesize(text, JOE, SynthesisParams(
        options=options))])
    np.testing.assert_allclose(first, second, atol=1e-5)  # no noise: deterministic


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"noise_scale": 5}, "options.noise_scale"),
        ({"noise_scale": "loud"}, "options.noise_scale"),
        ({"bogus": 1}, "options.bogus"),
    ],
)
def test_bad_options_are_refused(piper: Engine, options: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        parse_options(piper, options)
    assert caught.value.param == param


def test_unknown_speaker_is_refused(piper: Engine) -> None:
    with pytest.raises(InvalidOption):
        list(piper.synthesize("Hello.", JOE, SynthesisParams(options=PiperOptions(speaker="x"))))


def test_speaker_zero_is_accepted_for_single_speaker_voice(piper: Engine) -> None:
    assert _duration_s(piper, "Hello.", options=PiperOptions(speaker=0)) > 0.2


def test_unknown_voice(piper: Engine) -> None:
    with pytest.raises(VoiceNotFound):
        list(piper.synthesize("Hello.", "nobody", SynthesisParams()))


def test_models_dir_voices_are_discovered(tmp_path: Path) -> None:
    bundled = bundled_voice_files()
    assert bundled is not None
    voice_dir = tmp_path / "models" / "en"
    voice_dir.mkdir(parents=True)
    shutil.copy(bundled.model_path, voice_dir / "en_GB-copy-low.onnx")
    shutil.copy(bundled.config_path, voice_dir / "en_GB-copy-low.onnx.json")
    shutil.copy(bundled.model_path, voice_dir / "orphan.onnx")  # no config: ignored
    engine = PiperEngine(Settings(data_dir=tmp_path, piper_preload_voices=False))
    engine.load()
    ids = {voice.id for voice in engine.voices()}
    assert ids == {JOE, "en_GB-copy-low"}
    chunks = list(engine.synthesize("Hello there.", "copy", SynthesisParams()))
    assert sum(len(c.samples) for c in chunks) > 5000


def test_corrupt_voice_config_is_a_clear_load_error(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "en_US-bad-low.onnx").write_bytes(b"not a model")
    (models / "en_US-bad-low.onnx.json").write_text("{ not json")
    engine = PiperEngine(Settings(data_dir=tmp_path))
    with pytest.raises(EngineLoadError, match="en_US-bad-low"):
        engine.load()


def test_corrupt_model_file_is_a_clear_load_error(tmp_path: Path) -> None:
    bundled = bundled_voice_files()
    assert bundled is not None
    models = tmp_path / "models"
    models.mkdir()
    (models / "en_US-broken-low.onnx").write_bytes(b"\x00" * 64)
    shutil.copy(bundled.config_path, models / "en_US-broken-low.onnx.json")
    engine = PiperEngine(Settings(data_dir=tmp_path))
    with pytest.raises(EngineLoadError, match="cannot load"):
        engine.load()


def test_thread_settings_reach_onnxruntime(tmp_path: Path) -> None:
    engine = PiperEngine(Settings(data_dir=tmp_path, piper_intra_op_threads=1,
                                  piper_inter_op_threads=1))
    engine.load()
    session = engine._session(JOE).session
    assert session.get_session_options().intra_op_num_threads == 1


@pytest.mark.parametrize("spinning", [True, False])
def test_spinning_stops_when_a_run_returns(tmp_path: Path, spinning: bool) -> None:
    """Issue 17: the all-core session spins between operators (about 10 % faster alone) but
    never after a run, when the replicas or the event loop need the cores."""
    engine = PiperEngine(Settings(data_dir=tmp_path, piper_intra_op_threads=2,
                                  piper_allow_spinning=spinning))
    engine.load()
    options = engine._session(JOE).session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == (
        "1" if spinning else "0"
    )
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"


def test_unknown_engine_name_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="unknown engine"):
        create_engine("nope", settings)


def test_chunks_carry_the_phoneme_alignment(piper: Engine) -> None:
    """Issue 21: each chunk's ``phonemes`` (espeak's, with Piper's markers) sum to its
    samples, so word times can be read off them."""
    voice = piper.voices()[0].id
    chunks = list(piper.synthesize("Hello there. How are you?", voice, SynthesisParams()))
    assert len(chunks) == 2
    for chunk in chunks:
        assert chunk.phonemes is not None
        assert sum(samples for _, samples in chunk.phonemes) == len(chunk.samples)
        assert chunk.phonemes[0][0] == "^" and chunk.phonemes[-1][0] == "$"
        assert " " in [phoneme for phoneme, _ in chunk.phonemes]  # word separators


def test_other_engines_leave_the_alignment_out() -> None:
    fake = create_engine("fake", Settings(engines=["fake"]))
    fake.load()
    chunk = next(iter(fake.synthesize("Hello.", fake.voices()[0].id, SynthesisParams())))
    assert chunk.phonemes is None


def test_interrupt_stops_a_running_synthesis_and_the_next_one_runs(tmp_path: Path) -> None:
    """The scheduler stops an all-core run before its first audio (scheduler/layout.py):
    ``interrupt`` ends the onnxruntime run in progress, and the instance keeps working."""
    engine = PiperEngine(Settings(data_dir=tmp_path, piper_intra_op_threads=1))
    engine.load()
    assert isinstance(engine, InterruptibleEngine)
    text = ("The birch canoe slid on the smooth planks, then glued the sheet to the dark "
            "blue background.")
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(list(engine.synthesize(text, JOE, SynthesisParams())))
        except EngineFailed as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    for _ in range(5000):  # until the call has started (phonemizing or inside onnxruntime)
        if engine._interruptions or outcome:
            break
        time.sleep(0.0002)
    engine.interrupt()
    worker.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], EngineFailed), outcome
    assert "terminate" in str(outcome[0]) or "interrupted" in str(outcome[0])
    again = list(engine.synthesize("Still speaking.", JOE, SynthesisParams()))
    assert sum(chunk.samples.size for chunk in again) > 0
    engine.interrupt()  # nothing running: a no-op
