"""Security errors live in ``voxserve.errors`` with every other domain error; re-exported here."""

from voxserve.errors import (
    INVALID_CREDENTIALS,
    ApiKeyNotFound,
    Forbidden,
    JsonTooDeep,
    RateLimited,
    RequestTooLarge,
    SecurityError,
    Unauthenticated,
    UnsafeName,
)

__all__ = [
    "INVALID_CREDENTIALS",
    "ApiKeyNotFound",
    "Forbidden",
    "JsonTooDeep",
    "RateLimited",
    "RequestTooLarge",
    "SecurityError",
    "Unauthenticated",
    "UnsafeName",
]
