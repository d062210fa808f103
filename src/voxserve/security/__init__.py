"""Security, the domain side (no HTTP framework here; ``voxserve.api`` holds the glue):

* :mod:`.principal` — who is calling, and the scopes;
* :mod:`.api_keys` — the hashed API-key file (``voxserve keys``);
* :mod:`.jwt_auth` — JWT verification (HS*, RS*/ES* with a public key or a JWKS file);
* :mod:`.authenticator` — an ``Authorization`` header to a principal, in the configured mode;
* :mod:`.limits` — rate and concurrency limits per principal, in memory or in Redis;
* :mod:`.audit` — the audit log and its records;
* :mod:`.config_check` — start-up checks of the security settings.

The errors are in ``voxserve.errors`` with every other domain error. Import each name from
the module that defines it.
"""
