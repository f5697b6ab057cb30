"""Run the service with uvicorn (what ``forewarn serve`` calls).

>>> url_of("127.0.0.1", 8000)
'http://127.0.0.1:8000/'
"""

from __future__ import annotations

import uvicorn

from forewarn.serve.api.app import create_app
from forewarn.serve.settings import ServeSettings


def url_of(host: str, port: int) -> str:
    """The dashboard's address (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run_server(settings: ServeSettings, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info",
               on_ready: str | None = None) -> None:
    """Serve the API and dashboard until interrupted. ``on_ready``: a line printed when it listens."""
    app = create_app(settings)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if on_ready:
        original = server.startup

        async def startup(sockets=None):  # type: ignore[no-untyped-def]
            await original(sockets=sockets)
            print(on_ready, flush=True)

        server.startup = startup  # type: ignore[method-assign]
    server.run()
