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


class UnsupportedDocument(InvalidRequest):
    """Not a format we read (an image, a Word file, an encrypted PDF...)."""

    code = "unsupported_document"


class DocumentTooLarge(InvalidRequest):
    """Over a size limit: upload bytes, unpacked bytes, zip members, PDF pages, characters."""

    code = "document_too_large"


class CorruptDocument(InvalidRequest):
    """Claims to be a format we read but cannot be read as one (broken zip, PDF or XML)."""

    code = "corrupt_document"


class EmptyDocument(InvalidRequest):
    """Nothing to read aloud."""

    code = "empty_document"


class ModelNotFound(VoxserveError):
    code = "model_not_found"


class VoiceNotFound(VoxserveError):
    code = "voice_not_found"


class ArtifactNotFound(VoxserveError):
    code = "not_found"


class ProjectNotFound(VoxserveError):
    code = "project_not_found"


class ProjectNotReady(VoxserveError):
    """The project's outputs do not exist yet (it is still converting, or it failed)."""

    code = "project_not_ready"


class ProjectConflict(VoxserveError):
    """The project's state does not allow this (e.g. canceling a completed project)."""

    code = "project_state_conflict"


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
