"""The app's pure ASGI middleware (no BaseHTTPMiddleware, so streamed responses pass through
untouched), one module each, outermost first as ``voxserve.api.app`` installs them:

* :mod:`.context` — request id, access line, HTTP metrics, in-flight count;
* :mod:`.audit` — one audit record per authenticated request;
* :mod:`.rate_limit` — rate-limit headers on the response, stream slots released at its end
  (and the request-side helpers that fill them in);
* :mod:`.request_limits` — header, body-size and JSON-depth limits before any route.
"""
