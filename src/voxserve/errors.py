"""Domain errors. Every failure a caller can cause or observe is one of these.

They carry a stable machine ``code`` and a human ``message``; ``voxserve.api.errors`` maps
each class to an HTTP status in one place. Nothing here knows about HTTP.
"""

from __future__ import annotations

import math


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


# --- security: authentication, authorization, rate and request limits -------------------

#: The one message a client sees for any credential problem (missing key, wrong signature,
#: expired, revoked, unknown kid...): it must not tell an attacker which check failed.
INVALID_CREDENTIALS = "invalid or expired token"


class SecurityError(VoxserveError):
    """Base of the security errors; ``headers`` go on the error response."""

    code = "security_error"

    def __init__(
        self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.headers: dict[str, str] = dict(headers or {})


class Unauthenticated(SecurityError):
    """No credentials, or credentials that do not verify (HTTP 401)."""

    code = "invalid_api_key"

    def __init__(self, message: str = INVALID_CREDENTIALS, *, invalid_token: bool = True) -> None:
        # RFC 6750 §3: no error attribute when the request had no credentials at all.
        challenge = 'Bearer realm="voxserve"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(SecurityError):
    """Authenticated, but the principal lacks the scope the route needs (HTTP 403)."""

    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"this credential lacks the '{scope}' scope",
            headers={"WWW-Authenticate":
                     f'Bearer realm="voxserve", error="insufficient_scope", scope="{scope}"'},
        )
        self.scope = scope


class RateLimited(SecurityError):
    """A per-principal limit refused the request (HTTP 429, with ``Retry-After``)."""

    code = "rate_limit_exceeded"

    def __init__(
        self, message: str, *, retry_after_s: float, limit: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        all_headers = {"Retry-After": str(max(1, math.ceil(retry_after_s))), **(headers or {})}
        super().__init__(message, headers=all_headers)
        self.retry_after_s = retry_after_s
        #: Which limit refused: ``requests``, ``characters`` or ``concurrent_streams``.
        self.limit = limit


class ApiKeyNotFound(SecurityError):
    """``revoke`` named no key (CLI only; never raised while authenticating)."""

    code = "api_key_not_found"


class RequestTooLarge(InvalidRequest):
    """The request body is over its byte limit (HTTP 413; answered by the middleware)."""

    code = "request_too_large"


class JsonTooDeep(InvalidRequest):
    """The JSON body nests deeper than ``max_json_depth`` (HTTP 400; by the middleware)."""

    code = "json_too_deep"


class JsonTooManyValues(InvalidRequest):
    """The JSON body holds more than ``max_json_values`` values (HTTP 400; by the
    middleware): parsing millions of tiny values would take seconds."""

    code = "json_too_many_values"


class HeadersTooLarge(InvalidRequest):
    """Too many request headers, or too many header bytes (HTTP 431; by the middleware)."""

    code = "headers_too_large"


class UnsafeUrl(InvalidRequest):
    """A URL the server would call (a webhook) is not an http(s) URL of a public address,
    or its host does not resolve (HTTP 400; at submission, and again before each call)."""

    code = "unsafe_url"


# --- text: SSML, phonemes, lexicons (issue 18) ---------------------------------------------


class InvalidSsml(InvalidRequest):
    """SSML input that is malformed, declares a DTD or entities, nests too deeply, or uses
    an element or attribute value voxserve does not support (HTTP 400)."""

    code = "invalid_ssml"

    def __init__(self, message: str, *, param: str | None = "input") -> None:
        super().__init__(message, param=param)


class PhonemesUnsupported(InvalidRequest):
    """Inline ``[[ phonemes ]]`` for a voice whose engine takes no phoneme input (HTTP 400)."""

    code = "phonemes_unsupported"


class InvalidLexicon(InvalidRequest):
    """A pronunciation lexicon that cannot be read (HTTP 400 from the admin API)."""

    code = "invalid_lexicon"


class LexiconNotFound(VoxserveError):
    """No lexicon of that name (HTTP 404)."""

    code = "lexicon_not_found"


# --- the model repository (issue 19: versioned, hot-swappable models) -------------------


class InvalidModel(InvalidRequest):
    """A model directory or manifest that cannot be used: missing or corrupt files, a
    checksum mismatch, an unknown or disabled engine, a bad name (HTTP 422)."""

    code = "invalid_model"


class ModelVersionNotFound(ModelNotFound):
    """No such model, or no such version of it, in the model repository (HTTP 404)."""

    code = "model_version_not_found"


class ModelConflict(VoxserveError):
    """The repository or the loaded models do not allow this now: a version that exists
    already, a read-only version, removing the active version, nothing to roll back to
    (HTTP 409)."""

    code = "model_conflict"


class ModelMemoryExceeded(VoxserveError):
    """Loading this version would exceed ``VOXSERVE_MODEL_MEMORY_BYTES`` (HTTP 507)."""

    code = "model_memory_exceeded"


class ModelSourceUnavailable(VoxserveError):
    """An import source (an MLflow server, an S3 repository) cannot be reached (HTTP 502)."""

    code = "model_source_unavailable"


# --- WebSocket streaming input (issue 21) -----------------------------------------------


class ProtocolViolation(InvalidRequest):
    """A WebSocket client broke the protocol; ``close_code`` is the standard close code
    (1003 binary where text is expected, 1007 not JSON, 1008 policy, 1009 too big)."""

    code = "invalid_message"

    def __init__(self, message: str, close_code: int, *, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.close_code = close_code
