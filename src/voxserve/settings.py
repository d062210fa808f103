"""The one settings object: every knob, read from ``VOXSERVE_*`` environment variables.

CLI flags of ``voxserve serve`` override the environment by passing keyword arguments.
Names carry their units (``_ms``, ``_s``, ``_hz``, ``_chars``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voxserve.types import AudioFormat

LogLevel = Literal["debug", "info", "warning", "error", "critical"]

DEFAULT_VOICE_ALIASES: dict[str, str] = {
    name: "en_US-joe-medium"
    for name in (
        "alloy", "ash", "ballad", "coral", "echo", "fable",
        "nova", "onyx", "sage", "shimmer", "verse",
    )
}
DEFAULT_MODEL_ALIASES: dict[str, str] = {
    "tts-1": "piper",
    "tts-1-hd": "piper",
    "gpt-4o-mini-tts": "piper",
}


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "voxserve"


class Settings(BaseSettings):
    """Configuration of a voxserve process (API server, CLI or worker)."""

    model_config = SettingsConfigDict(
        env_prefix="VOXSERVE_", extra="forbid", frozen=True, validate_default=True
    )

    # --- server -------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: LogLevel = "info"

    # --- local state -------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir)
    #: Extra Piper voices (``*.onnx`` + ``*.onnx.json``); defaults to ``<data_dir>/models``.
    models_dir: Path | None = None

    # --- engines and names ---------------------------------------------------------
    #: Engines to load at start-up, by registry name (``piper``, ``fake`` for tests).
    engines: list[str] = Field(default_factory=lambda: ["piper"])
    default_model: str = "piper"
    default_voice: str = "en_US-joe-medium"
    #: Client-facing voice names (OpenAI's ``alloy`` …) mapped to local voice ids.
    voice_aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VOICE_ALIASES))
    #: Client-facing model names (OpenAI's ``tts-1`` …) mapped to local engine names.
    model_aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODEL_ALIASES))

    # --- requests ------------------------------------------------------------------
    max_input_chars: int = Field(default=4096, ge=1, le=1_000_000)
    max_segment_chars: int = Field(default=400, ge=20, le=10_000)
    default_response_format: AudioFormat = AudioFormat.MP3

    # --- audio ---------------------------------------------------------------------
    sentence_silence_ms: float = Field(default=200.0, ge=0.0, le=5000.0)
    join_fade_ms: float = Field(default=5.0, ge=0.0, le=100.0)

    # --- engine runtime ------------------------------------------------------------
    #: Segments synthesized at the same time per engine (threads calling the model).
    engine_workers: int = Field(default=1, ge=1, le=256)
    #: onnxruntime intra-op threads per Piper session (0: onnxruntime picks, all cores).
    piper_intra_op_threads: int = Field(default=0, ge=0, le=256)
    piper_inter_op_threads: int = Field(default=1, ge=0, le=256)
    piper_use_cuda: bool = False
    #: Load and warm up every discovered voice at start-up (else on first use).
    piper_preload_voices: bool = True

    @field_validator("engines", mode="before")
    @classmethod
    def _split_engine_list(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not self.engines:
            raise ValueError("VOXSERVE_ENGINES must name at least one engine")
        if len(set(self.engines)) != len(self.engines):
            raise ValueError(f"VOXSERVE_ENGINES names an engine twice: {self.engines}")
        return self

    @cached_property
    def resolved_models_dir(self) -> Path:
        return (self.models_dir or self.data_dir / "models").expanduser()
