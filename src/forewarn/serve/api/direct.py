"""Hot routes answered below FastAPI's router: plain ASGI, same endpoint function, same error answers.

For a request that costs half a millisecond, FastAPI's own layers (exception middleware, the exit-stack
middleware, matching the path against every route, the route's request/response wrapper, dependency solving,
and the answer passed back through each of them) come to about a third of the server's time, more when the
CPU's caches are cold between requests. :class:`DirectRoutes` sits among the app's middleware (inside the
metrics, body-limit and CORS middleware, so those still apply) and answers a few :class:`DirectRoute` s
itself: exact method and path, the endpoint called with a :class:`~starlette.requests.Request`, its
exceptions turned into answers by the app's own exception handlers (the ones FastAPI would use). Every other
request goes on to FastAPI unchanged. The endpoint stays registered with FastAPI too, so it is in the OpenAPI
document and is what a request reaches where this middleware is not installed.

A direct endpoint is an ``async def`` of the request alone: its answer cannot depend on FastAPI's parameter
handling or dependencies.

>>> from fastapi import FastAPI, Request
>>> from fastapi.responses import JSONResponse
>>> from fastapi.testclient import TestClient
>>> async def echo(request: Request) -> JSONResponse:
...     return JSONResponse({"length": len(await request.body()), "route": request.scope["route"].path})
>>> app = FastAPI()
>>> _ = app.post("/echo")(echo)
>>> app.add_middleware(DirectRoutes, routes=[DirectRoute("POST", "/echo", echo)])
>>> TestClient(app).post("/echo", content=b"abc").json()
{'length': 3, 'route': '/echo'}
>>> TestClient(app).get("/echo").status_code    # other methods go on to FastAPI
405
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class DirectRoute:
    """``endpoint`` answers ``method`` on exactly ``path`` (the full path, no parameters in it)."""

    method: str
    path: str
    endpoint: Endpoint

    def __post_init__(self) -> None:
        parameters = list(inspect.signature(self.endpoint).parameters.values())
        if not inspect.iscoroutinefunction(self.endpoint) or len(parameters) != 1:
            raise TypeError(f"{self.path}: a direct route's endpoint is an async function of the request alone")
        if "{" in self.path:
            raise TypeError(f"{self.path}: a direct route has no path parameters")


class DirectRoutes:
    """Plain ASGI middleware answering :class:`DirectRoute` s before FastAPI does (see the module)."""

    def __init__(self, app: Any, *, routes: Iterable[DirectRoute]):
        self.app = app
        self.routes = {(route.method, route.path): route for route in routes}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # what the metrics middleware labels the request with, as FastAPI's route
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as err:
            handler = _handler_of(scope["app"], err)
            if handler is None:
                raise
            response = handler(request, err)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def _handler_of(app: FastAPI, err: Exception) -> Callable[[Request, Exception], Any] | None:
    """The app's exception handler for ``err`` (nearest class in its method resolution order), as FastAPI's
    exception middleware picks it; ``None`` when there is none (a server error)."""
    handlers = app.exception_handlers
    if isinstance(err, HTTPException) and err.status_code in handlers:
        return handlers[err.status_code]  # type: ignore[return-value]
    for cls in type(err).__mro__:
        if cls in handlers:
            return handlers[cls]  # type: ignore[return-value]
    return None
