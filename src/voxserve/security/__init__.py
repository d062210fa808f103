"""Security building blocks: authentication (API keys, JWT), scopes, rate and concurrency
limits, request-size limits, audit log, and start-up checks of the security settings."""

from voxserve.security.api_keys import ApiKeyRecord, ApiKeyStore, default_api_keys_path
from voxserve.security.audit import (
    AuditEvent,
    AuditLog,
    AuditMiddleware,
    FileAuditLog,
    NullAuditLog,
    audit_event,
    create_audit_log,
)
from voxserve.security.authenticator import (
    Authenticator,
    bearer_credential,
    current_principal,
    require_scope,
)
from voxserve.security.config_check import check_security_settings
from voxserve.security.errors import (
    ApiKeyNotFound,
    Forbidden,
    JsonTooDeep,
    RateLimited,
    RequestTooLarge,
    SecurityError,
    Unauthenticated,
    UnsafeName,
)
from voxserve.security.jwt_auth import JwtVerifier
from voxserve.security.limits import (
    RateLimiter,
    RateLimitMiddleware,
    StreamSlot,
    add_rate_limit_headers,
    client_identity,
    count_request,
    hold_stream_slot,
)
from voxserve.security.principal import (
    ALL_SCOPES,
    ANONYMOUS,
    SCOPE_ADMIN,
    SCOPE_PROJECTS,
    SCOPE_SPEECH,
    Principal,
    principal_var,
)
from voxserve.security.request_limits import RequestLimitsMiddleware, json_depth, safe_name

__all__ = [
    "ALL_SCOPES",
    "ANONYMOUS",
    "SCOPE_ADMIN",
    "SCOPE_PROJECTS",
    "SCOPE_SPEECH",
    "ApiKeyNotFound",
    "ApiKeyRecord",
    "ApiKeyStore",
    "AuditEvent",
    "AuditLog",
    "AuditMiddleware",
    "Authenticator",
    "FileAuditLog",
    "Forbidden",
    "JsonTooDeep",
    "JwtVerifier",
    "NullAuditLog",
    "Principal",
    "RateLimitMiddleware",
    "RateLimited",
    "RateLimiter",
    "RequestLimitsMiddleware",
    "RequestTooLarge",
    "SecurityError",
    "StreamSlot",
    "Unauthenticated",
    "UnsafeName",
    "add_rate_limit_headers",
    "audit_event",
    "bearer_credential",
    "check_security_settings",
    "client_identity",
    "count_request",
    "create_audit_log",
    "current_principal",
    "default_api_keys_path",
    "hold_stream_slot",
    "json_depth",
    "principal_var",
    "require_scope",
    "safe_name",
]
