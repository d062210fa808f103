"""Domain errors. Every failure a caller can cause or observe is one of these.

They carry a stable machine ``code`` and a human ``message``; ``voxserve.api.errors`` maps
each class to an HTTP status in one place. Nothing here knows about HTTP.
"""

from __future__ import annotations


class VoxserveError(Exception):
    """Base class; ``code`` is stable and documented, ``param`` names the offending field."""

    code: str = "voxserve_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


# --- the request is wrong (client errors) ---------------------------------------------


class InvalidRequest(VoxserveError):
    code = "invalid_request"


class EmptyText(InvalidRequest):
    code = "empty_input"


class TextTooLong(InvalidRequest):
    code = "input_too_long"


class UnsupportedFormat(InvalidRequest):
    code = "unsupported_response_format"


class UnsupportedSampleRate(InvalidRequest):
    code = "unsupported_sample_rate"


class InvalidOption(InvalidRequest):
    code = "invalid_option"


class ModelNotFound(VoxserveError):
    code = "model_not_found"


class VoiceNotFound(VoxserveError):
    code = "voice_not_found"


class ArtifactNotFound(VoxserveError):
    code = "not_found"


# --- the service cannot serve right now ------------------------------------------------


class NotReady(VoxserveError):
    code = "not_ready"


class Overloaded(VoxserveError):
    """Refused by admission control (the service's state, not the client's fault)."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after_s: float = 1.0, reason: str = "overloaded"):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.reason = reason


class ShuttingDown(VoxserveError):
    code = "shutting_down"


class DeadlineExceeded(VoxserveError):
    """The request's timeout passed before its audio started."""

    code = "deadline_exceeded"


# --- the engine or configuration failed (server errors) --------------------------------


class EngineFailed(VoxserveError):
    code = "engine_failed"


class EngineLoadError(VoxserveError):
    """A model directory or voice file is missing, corrupt or inconsistent."""

    code = "engine_load_error"


class ConfigurationError(VoxserveError):
    code = "configuration_error"
