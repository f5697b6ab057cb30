"""Dependencies of the routes: the service, and the token check of write endpoints.

Routes take the service as a parameter (``svc: Service``); FastAPI provides it from the app, and a test can
provide another one with ``app.dependency_overrides[get_service]``.

Writes need ``Authorization: Bearer <token>``; with no token configured the service refuses every write with 403
(there is no default secret). The token is checked before the body is read: a route of a router built with
``route_class=TokenFirstRoute`` that depends on :func:`require_token` checks the token as soon as its path
matched, so an anonymous caller gets its 401 or 403 without the server reading, let alone parsing, what it sent.

>>> from fastapi import APIRouter, Depends, FastAPI
>>> from fastapi.testclient import TestClient
>>> from pydantic import BaseModel
>>> from forewarn.serve import ServeSettings
>>> class Body(BaseModel):
...     n: int
>>> router = APIRouter(route_class=TokenFirstRoute)
>>> @router.post("/write", dependencies=[Depends(require_token)])
... def write(body: Body) -> int:
...     return body.n
>>> app = FastAPI()
>>> app.state.settings = ServeSettings(token="s3cret-token-123")
>>> app.include_router(router)
>>> client = TestClient(app)
>>> client.post("/write", content=b"not json").status_code       # the token first: 401, not 422
401
>>> client.post("/write", json={"n": 2}, headers={"Authorization": "Bearer s3cret-token-123"}).json()
2
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from forewarn.serve.service import HealthService

bearer = HTTPBearer(auto_error=False, description="the service's API token (FOREWARN_API_TOKEN)")


def service_of(request: Request) -> HealthService:
    """The app's :class:`~forewarn.serve.service.HealthService` (for code outside FastAPI's parameter handling,
    such as the direct routes of :mod:`forewarn.serve.api.direct`)."""
    service: HealthService = request.app.state.service
    return service


async def get_service(request: Request) -> HealthService:
    """:func:`service_of` as a dependency (``async``: FastAPI runs it on the event loop, no thread hop)."""
    return service_of(request)


#: a route parameter that FastAPI fills with the app's service
Service = Annotated[HealthService, Depends(get_service)]


def _given_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def has_token(request: Request) -> bool:
    """Whether the request carries the service's token (never true when none is configured)."""
    expected = request.app.state.settings.token
    given = _given_token(request)
    if expected is None or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def check_token(request: Request) -> None:
    """Raise 403 when writes are disabled, 401 when the token is missing or wrong."""
    if request.app.state.settings.token is None:
        raise HTTPException(
            403,
            "writes are disabled: no API token is configured; start the service with "
            "FOREWARN_API_TOKEN set (12+ random characters) and send "
            "'Authorization: Bearer <token>'",
        )
    if not has_token(request):
        raise HTTPException(
            401,
            "missing or wrong API token; send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Dependency of every write endpoint (it also puts the bearer scheme in the OpenAPI document); under a
    :class:`TokenFirstRoute` the check has already run before the body was read."""
    check_token(request)


class TokenFirstRoute(APIRoute):
    """A route that checks the token before FastAPI reads and parses the body, when it depends on
    :func:`require_token` (other routes are left as they are)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not any(getattr(d, "dependency", None) is require_token for d in self.dependencies):
            return handler

        async def token_first(request: Request) -> Response:
            check_token(request)
            return await handler(request)

        return token_first
