"""Container health check: exit 0 when voxserve answers 200 on a probe path, else 1.

python:3.11-slim and the CUDA image have no curl or wget, so the HEALTHCHECK (and the
compose healthchecks) run this with the image's Python, standard library only:

    python /usr/local/bin/voxserve-healthcheck [/healthz|/readyz]

Port from VOXSERVE_PORT (default 8000); always asks 127.0.0.1 over plain HTTP.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    port = os.environ.get("VOXSERVE_PORT", "8000")
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # a fixed loopback URL
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError, ValueError):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
