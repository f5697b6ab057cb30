"""The model registry: versions with their metrics, promote, roll back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from forewarn.bundles.registry import ModelRegistry
from forewarn.exceptions import DataNotFoundError
from forewarn.serve.api.middleware import require_token
from forewarn.serve.api.routes_assets import service
from forewarn.serve.api.schemas import ERRORS, PromoteRequest

router = APIRouter(tags=["models"], responses=ERRORS)
ModelId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def _registry(request: Request) -> ModelRegistry:
    registry = service(request).registry
    if registry is None:
        raise DataNotFoundError("no models folder is configured; start the service with --models DIR")
    return registry


def _with_live(request: Request, described: dict[str, Any]) -> dict[str, Any]:
    bundle = _registry(request).bundle(described["model_id"])
    return {**described, "live": bundle.describe()}


@router.get("/models", summary="Every model id with its versions, metrics and the live version")
def list_models(request: Request) -> list[dict[str, Any]]:
    registry = service(request).registry
    if registry is None:
        return []
    return [_with_live(request, registry.describe(model_id)) for model_id in registry.model_ids()]


@router.get("/models/{model_id}", summary="One model's versions, metrics and roll-back history")
def get_model(request: Request, model_id: ModelId) -> dict[str, Any]:
    return _with_live(request, _registry(request).describe(model_id))


@router.post("/models/{model_id}/promote", dependencies=[Depends(require_token)],
             summary="Make a version live (it is loaded and checked first)")
def promote(request: Request, model_id: ModelId, body: PromoteRequest) -> dict[str, Any]:
    return _with_live(request, _registry(request).promote(model_id, body.version))


@router.post("/models/{model_id}/rollback", dependencies=[Depends(require_token)],
             summary="Go back to the version that was live before the last promotion")
def rollback(request: Request, model_id: ModelId) -> dict[str, Any]:
    return _with_live(request, _registry(request).rollback(model_id))
