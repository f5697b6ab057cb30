"""The model registry: versions with their metrics, promote, roll back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from forewarn.bundles.registry import ModelRegistry
from forewarn.exceptions import DataNotFoundError
from forewarn.serve.api.deps import Service, TokenFirstRoute, require_token
from forewarn.serve.api.schemas import ERRORS, PromoteRequest
from forewarn.serve.service import HealthService

router = APIRouter(tags=["models"], responses=ERRORS, route_class=TokenFirstRoute)
ModelId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def _registry(svc: HealthService) -> ModelRegistry:
    registry = svc.registry
    if registry is None:
        raise DataNotFoundError("no models folder is configured; start the service with --models DIR")
    return registry


def _with_live(svc: HealthService, described: dict[str, Any]) -> dict[str, Any]:
    bundle = _registry(svc).bundle(described["model_id"])
    return {**described, "live": {**bundle.describe(), "max_rul_hours": _max_rul_hours(bundle.folder)}}


def _max_rul_hours(folder: Any) -> float | None:
    """The RUL cap the model was trained with (``recipe.max_rul_hours`` of its ``card.json``, ``forewarn train``):
    a RUL at the cap means "this long or longer". None without a card that says (bundles made otherwise)."""
    try:
        recipe = json.loads((Path(folder) / "card.json").read_text(encoding="utf-8")).get("recipe", {})
        cap = recipe.get("max_rul_hours") if isinstance(recipe, dict) else None
        return float(cap) if isinstance(cap, int | float) and cap > 0 else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None


@router.get("/models", summary="Every model id with its versions, metrics and the live version")
def list_models(svc: Service) -> list[dict[str, Any]]:
    registry = svc.registry
    if registry is None:
        return []
    return [_with_live(svc, registry.describe(model_id)) for model_id in registry.model_ids()]


@router.get("/models/{model_id}", summary="One model's versions, metrics and roll-back history")
def get_model(svc: Service, model_id: ModelId) -> dict[str, Any]:
    return _with_live(svc, _registry(svc).describe(model_id))


@router.post(
    "/models/{model_id}/promote",
    dependencies=[Depends(require_token)],
    summary="Make a version live (it is loaded and checked first)",
)
def promote(svc: Service, model_id: ModelId, body: PromoteRequest) -> dict[str, Any]:
    return _with_live(svc, _registry(svc).promote(model_id, body.version))


@router.post(
    "/models/{model_id}/rollback",
    dependencies=[Depends(require_token)],
    summary="Go back to the version that was live before the last promotion",
)
def rollback(svc: Service, model_id: ModelId) -> dict[str, Any]:
    return _with_live(svc, _registry(svc).rollback(model_id))


@router.get(
    "/models/{model_id}/monitor",
    summary="Drift per sensor over time, drift alerts and realised vs promised performance (forewarn monitor's "
    "runs), and the retraining decisions",
)
def monitor(svc: Service, model_id: ModelId, last: int = Query(20, ge=1, le=500)) -> dict[str, Any]:
    from forewarn.monitor.retrain import DECISIONS, decisions_of
    from forewarn.monitor.runner import history

    registry = _registry(svc)
    active = registry.active_version(model_id)  # an unknown model id is a 404
    runs = history(registry.root, model_id, last=last)
    return {
        "model_id": model_id,
        "active": active,
        "runs": runs,
        "latest": runs[-1] if runs else None,
        "decisions": decisions_of(registry.root / model_id / DECISIONS),
    }
