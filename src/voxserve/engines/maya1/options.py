"""Per-request Maya1 options and their resolution against the server's defaults."""

from __future__ import annotations

from pydantic import Field

from voxserve.engines.base import EngineOptions
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import FRAME_TOKENS
from voxserve.errors import InvalidOption
from voxserve.settings import Settings


class Maya1Options(EngineOptions):
    """The ``options`` of a speech request for Maya1; unset fields use the server settings."""

    temperature: float | None = Field(default=None, gt=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    repetition_penalty: float | None = Field(default=None, ge=1.0, le=2.0)
    #: Upper bound on generated tokens (7 per 85 ms frame); at most the server's maximum.
    max_new_tokens: int | None = Field(default=None, ge=FRAME_TOKENS, le=16384)
    #: Makes the sampled tokens reproducible (SNAC's decoder noise stays random).
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)


def as_maya1_options(options: EngineOptions) -> Maya1Options:
    """Requests normally carry ``Maya1Options`` already; anything else is re-validated."""
    if isinstance(options, Maya1Options):
        return options
    return Maya1Options.model_validate(options.model_dump())


def sampling_config(settings: Settings, options: Maya1Options) -> SamplingConfig:
    """Options over settings; a request may lower ``max_new_tokens``, never raise it."""
    limit = settings.maya1_max_new_tokens
    if options.max_new_tokens is not None and options.max_new_tokens > limit:
        raise InvalidOption(
            f"max_new_tokens {options.max_new_tokens} exceeds this server's limit {limit}",
            param="options.max_new_tokens",
        )
    return SamplingConfig(
        temperature=_pick(options.temperature, settings.maya1_temperature),
        top_p=_pick(options.top_p, settings.maya1_top_p),
        repetition_penalty=_pick(options.repetition_penalty, settings.maya1_repetition_penalty),
        max_new_tokens=options.max_new_tokens or limit,
        min_new_tokens=settings.maya1_min_new_tokens,
        seed=options.seed,
    )


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value
