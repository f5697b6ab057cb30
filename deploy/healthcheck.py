"""The image's HEALTHCHECK: exit 0 when GET /healthz of the service in this container answers 200.

Run by Debian's python3 (no package of the virtual environment is imported, so it stays quick).
"""

import os
import sys
import urllib.request

port = os.environ.get("FOREWARN_PORT", "8000")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception as err:  # noqa: BLE001 - any failure is "unhealthy"
    print(f"healthz: {err}", file=sys.stderr)
    sys.exit(1)
