"""Run the service with uvicorn (what ``forewarn serve`` calls).

A user error while the app starts (a :class:`~forewarn.exceptions.ForewarnError` from its lifespan, such as
no MQTT broker answering ``forewarn serve --stream``) ends :func:`run_server` by raising that error, so the
command line prints one line instead of uvicorn's traceback.

>>> url_of("127.0.0.1", 8000)
'http://127.0.0.1:8000/'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any

import uvicorn
from fastapi import FastAPI

from forewarn.exceptions import ForewarnError
from forewarn.serve.api.app import create_app
from forewarn.serve.settings import ServeSettings


def url_of(host: str, port: int) -> str:
    """The dashboard's address (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _catch_startup_errors(app: FastAPI, server: uvicorn.Server, failures: list[ForewarnError]) -> None:
    """Make a user error raised while the app starts stop the server quietly and land in ``failures``."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with AsyncExitStack() as stack:
            state = None
            try:
                state = await stack.enter_async_context(inner(a))
            except ForewarnError as err:
                failures.append(err)
                server.should_exit = True
            yield state

    app.router.lifespan_context = lifespan


def run_server(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    on_ready: str | None = None,
) -> None:
    """Serve the API and dashboard until interrupted. ``on_ready``: a line printed when it listens."""
    app = create_app(settings)
    # no "server: uvicorn" header: it tells a scanner what runs here, and costs a header per answer
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    failures: list[ForewarnError] = []
    _catch_startup_errors(app, server, failures)
    if on_ready:
        original = server.startup

        async def startup(sockets=None):  # type: ignore[no-untyped-def]
            await original(sockets=sockets)
            if not server.should_exit:
                print(on_ready, flush=True)

        server.startup = startup  # type: ignore[method-assign]
    with suppress(KeyboardInterrupt):  # uvicorn raises the Ctrl-C it caught again, after its graceful shutdown
        server.run()
    if failures:
        raise failures[0]
