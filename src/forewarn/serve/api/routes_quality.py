"""Quality control: SPC charts with rule hits (and filing them as alerts), inspections with reject/review/pass,
the review queue (a reviewer's verdict is stored), per-line reports, and the ``/quality`` dashboard page.

The inspection log and review queue is :class:`forewarn.quality.review.ReviewQueue`, in the DuckDB file named by
``ServeSettings.extra["quality_reviews"]`` (in memory by default). With a model folder from ``forewarn quality
train`` in ``ServeSettings.extra["quality_model"]``, ``GET /reviews/{id}/map`` draws where the model sees the defect
(its localisation head's map, or the class activation map) in red over the unit's image.

The server reads a unit's image only inside its image folders (:func:`image_roots`): ``extra["quality_images"]``
(folders joined by the path separator), else the review queue file's folder. An inspection naming an image
elsewhere is refused (422), so the routes cannot be used to read other files of the server.

>>> from fastapi.testclient import TestClient
>>> from forewarn.serve import ServeSettings, create_app
>>> client = TestClient(create_app(ServeSettings()))
>>> out = client.post("/api/v1/quality/spc", json={"chart": "c", "values": [3, 4, 2, 5, 3, 4, 20]}).json()
>>> out["charts"][0]["beyond_limits"], client.get("/api/v1/quality/reviews").json()
([6], [])
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field

from forewarn.decide.alerts import Alert
from forewarn.exceptions import DataNotFoundError, SchemaError
from forewarn.quality.decisions import InspectionCosts, decide, thresholds, with_novelty
from forewarn.quality.review import ReviewQueue
from forewarn.quality.spc import CHARTS, alert_fields, compute, renamed
from forewarn.serve.api.deps import Service, TokenFirstRoute, require_token
from forewarn.serve.api.schemas import ERRORS, Strict

router = APIRouter(prefix="/quality", tags=["quality"], responses=ERRORS, route_class=TokenFirstRoute)
pages = APIRouter(include_in_schema=False)
InspectionId = Annotated[int, Path(ge=1, le=2**62)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
_lock = threading.Lock()
_infer_lock = threading.Lock()  # one torch inference at a time on the shared model


class SPCRequest(Strict):
    """Measurements (or counts) and the chart to draw."""

    chart: Literal["xbar-r", "xbar-s", "imr", "p", "np", "c", "u", "ewma", "cusum"] = "imr"
    values: list[float] = Field(min_length=2, max_length=100_000)
    sizes: list[float] | None = Field(default=None, max_length=100_000)
    subgroup: int = Field(default=5, ge=2, le=25)
    ruleset: Literal["western-electric", "nelson"] = "western-electric"
    baseline: int | None = Field(default=None, ge=2)
    lsl: float | None = None
    usl: float | None = None
    lam: float | None = Field(default=None, gt=0, le=1)
    L: float | None = Field(default=None, gt=0)
    k: float | None = Field(default=None, ge=0)
    h: float | None = Field(default=None, gt=0)
    target: float | None = None
    sigma: float | None = Field(default=None, gt=0)


class SPCAlertRequest(SPCRequest):
    """An SPC request whose rule hits are filed as alerts of ``asset_id`` (a line or a machine)."""

    asset_id: Name
    times: list[str] | None = Field(default=None, max_length=100_000)


class InspectionRequest(Strict):
    """One inspected unit: its defect probability (calibrated) and the costs that set the thresholds."""

    line: Name
    unit: Name
    image: str = Field(default="", max_length=2000)
    defect_type: str = Field(default="", max_length=200)
    probability: float = Field(ge=0.0, le=1.0)
    scrap: float = Field(default=5.0, gt=0)
    review: float = Field(default=1.0, gt=0)
    escape: float = Field(default=2.0, gt=0)
    novelty_score: float | None = Field(default=None, ge=0.0, le=1e12)
    novelty_threshold: float = Field(default=1.0, ge=0.0, le=1e12)


class VerdictRequest(Strict):
    """A reviewer's verdict on a unit waiting for review."""

    verdict: Literal["defect", "good"]
    by: str = Field(default="", max_length=200)
    defect_type: str | None = Field(default=None, max_length=200)


def queue_of(request: Request) -> ReviewQueue:
    """The app's review queue (opened on first use)."""
    with _lock:
        queue = getattr(request.app.state, "quality_queue", None)
        if queue is None:
            path = request.app.state.settings.extra.get("quality_reviews", ":memory:")
            queue = request.app.state.quality_queue = ReviewQueue(path)
    return queue


Queue = Annotated[ReviewQueue, Depends(queue_of)]


def model_of(request: Request) -> Any:
    """The app's defect model (``extra["quality_model"]``, loaded on first use); none configured is a 404."""
    with _lock:
        model = getattr(request.app.state, "quality_model", None)
        if model is None:
            folder = request.app.state.settings.extra.get("quality_model")
            if not folder:
                raise DataNotFoundError("no defect model on this server: set extra['quality_model'] to a model folder")
            from forewarn.quality.vision import DefectClassifier

            model = request.app.state.quality_model = DefectClassifier.load(folder)
    return model


def texture_of(request: Request) -> Any:
    """The app's texture novelty detector and its image side (``texture.npz`` in ``extra["quality_model"]``,
    loaded on first use), or None when the server has none."""
    with _lock:
        if not hasattr(request.app.state, "quality_texture"):
            from forewarn.quality.texture import TEXTURE_FILE, TextureDetector

            folder = request.app.state.settings.extra.get("quality_model")
            has = bool(folder) and (FilePath(folder) / TEXTURE_FILE).is_file()
            request.app.state.quality_texture = TextureDetector.load(folder) if has else None
    return request.app.state.quality_texture


def image_roots(extra: dict[str, Any]) -> tuple[FilePath, ...]:
    """The folders the server reads units' images from: ``extra["quality_images"]`` (folders joined by the path
    separator), else the folder of the review queue file (none for a queue in memory).

    >>> [p.name for p in image_roots({"quality_images": os.pathsep.join(["/data/cam1", "/data/cam2"])})]
    ['cam1', 'cam2']
    >>> [p.name for p in image_roots({"quality_reviews": "/data/line1/reviews.duckdb"})], image_roots({})
    (['line1'], ())
    """
    given = str(extra.get("quality_images") or "")
    if given:
        return tuple(FilePath(p).resolve() for p in given.split(os.pathsep) if p)
    reviews = str(extra.get("quality_reviews") or ":memory:")
    return () if reviews == ":memory:" else (FilePath(reviews).resolve().parent,)


def readable_image(extra: dict[str, Any], image: str) -> FilePath | None:
    """``image`` resolved (links followed), when it lies inside one of the server's image folders, else None."""
    path = FilePath(image).resolve()
    return path if any(path.is_relative_to(root) for root in image_roots(extra)) else None


def _checked_image(request: Request, body: InspectionRequest) -> None:
    """Refuse an inspection whose image lies outside the server's image folders (422 naming the field)."""
    if body.image and readable_image(request.app.state.settings.extra, body.image) is None:
        roots = image_roots(request.app.state.settings.extra)
        where = ", ".join(str(r) for r in roots) if roots else "none: the review queue is in memory"
        raise SchemaError(
            f"image {body.image!r} is outside the server's image folders ({where})",
            column="image",
            hint="put the images under one of them, or set extra['quality_images'] to their folder",
        )


def _novelty_score(request: Request, body: InspectionRequest) -> float | None:
    """The unit's novelty score: the request's own, else the server's texture detector on the unit's image
    (when both are there), else None."""
    if body.novelty_score is not None:
        return body.novelty_score
    texture = texture_of(request) if body.image else None
    if texture is None or not FilePath(body.image).is_file():
        return None
    from threadpoolctl import threadpool_limits

    from forewarn.quality.images import decode

    detector, side = texture
    batch = decode(FilePath(body.image), side)[None, None]  # not an image: a SchemaError naming the file
    with _infer_lock, threadpool_limits(limits=1):
        return float(detector.score(batch)[0])


def _image_path(request: Request, queue: ReviewQueue, inspection_id: int) -> FilePath:
    path = readable_image(request.app.state.settings.extra, str(queue.get(inspection_id)["image"]))
    if path is None or not path.is_file():
        raise DataNotFoundError(f"the image of inspection {inspection_id} is not in this server's image folders")
    return path


def _params(body: SPCRequest) -> dict[str, Any]:
    extra = {k: getattr(body, k) for k in ("lam", "L", "k", "h", "target", "sigma") if getattr(body, k) is not None}
    wrong = sorted(set(extra) - ({"lam", "L", "target", "sigma"} if body.chart == "ewma" else set()) - (
        {"k", "h", "target", "sigma"} if body.chart == "cusum" else set()))  # fmt: skip
    if wrong:
        raise SchemaError(f"the {body.chart} chart takes no {', '.join(wrong)}", column=wrong[0])
    return extra


def _compute(body: SPCRequest) -> dict[str, Any]:
    """The chart; an error names the request's fields (``values``, ``sizes``), not the chart functions' own."""
    try:
        return compute(body.chart, body.values, sizes=body.sizes, subgroup=body.subgroup, ruleset=body.ruleset,
                       baseline=body.baseline, lsl=body.lsl, usl=body.usl, **_params(body))  # fmt: skip
    except SchemaError as err:
        raise renamed(err, "values", "sizes") from None


@router.post("/spc", summary=f"A control chart ({', '.join(CHARTS)}) with limits, rule hits and capability")
def spc(body: SPCRequest) -> dict[str, Any]:
    return _compute(body)


@router.post(
    "/spc/alerts",
    dependencies=[Depends(require_token)],
    summary="A control chart whose rule hits are filed as alerts (and cases) of one asset",
)
def spc_alerts(svc: Service, body: SPCAlertRequest) -> dict[str, Any]:
    result = _compute(body)
    if body.times is not None and len(body.times) != len(body.values):
        raise SchemaError(f"{len(body.times)} times for {len(body.values)} values", column="times")
    try:
        fields = alert_fields(result, body.asset_id, body.times, subgroup=body.subgroup)
    except ValueError as err:
        raise SchemaError(f"a time is not a timestamp: {err}", column="times") from None
    result["cases"] = sorted(set(svc.cases.file([Alert(**f) for f in fields])))
    return result


@router.post("/inspections", dependencies=[Depends(require_token)], summary="Log a unit; reject, review or pass")
def inspect(request: Request, queue: Queue, body: InspectionRequest) -> dict[str, Any]:
    """The decision follows the costs; a unit whose novelty score (the request's ``novelty_score``, else the
    server's texture detector on the unit's image) is above ``novelty_threshold`` goes to review when it would
    pass, as in ``forewarn quality inspect`` (:func:`forewarn.quality.decisions.with_novelty`). The log stores and
    the response carries ``novelty_score`` and ``novel`` (null without a score)."""
    _checked_image(request, body)
    limits = thresholds(InspectionCosts(scrap=body.scrap, review=body.review, escape=body.escape))
    score = _novelty_score(request, body)
    score = None if score is None else round(score, 6)
    decision, novel = with_novelty(decide(body.probability, limits), score, body.novelty_threshold)
    kind = body.defect_type if decision != "pass" else ""
    new = queue.add(line=body.line, unit=body.unit, image=body.image, defect_type=kind,
                    probability=body.probability, decision=decision, novelty_score=score, novel=novel)  # fmt: skip
    return {**queue.get(new), "review_above": limits.review_above, "reject_above": limits.reject_above}


@router.get("/reviews", summary="Units waiting for review (or all inspections), oldest first")
def reviews(queue: Queue, status: Literal["pending", "all"] = "pending", line: str | None = None) -> list[Any]:
    return queue.pending(line) if status == "pending" else queue.inspections(line)


@router.get("/reviews/{inspection_id}", summary="One inspection")
def review(queue: Queue, inspection_id: InspectionId) -> dict[str, Any]:
    return queue.get(inspection_id)


@router.get("/reviews/{inspection_id}/image", summary="The unit's image as PNG", response_class=Response)
def review_image(request: Request, queue: Queue, inspection_id: InspectionId) -> Response:
    from PIL import Image, UnidentifiedImageError

    path = _image_path(request, queue, inspection_id)
    try:
        with Image.open(path) as image:
            buffer = io.BytesIO()
            image.convert("L").save(buffer, format="PNG")
    except (UnidentifiedImageError, OSError):
        raise HTTPException(status_code=422, detail=f"the file of inspection {inspection_id} is not an image") from None
    return Response(buffer.getvalue(), media_type="image/png")


@router.get(
    "/reviews/{inspection_id}/map",
    summary="The unit's image with the model's defect map in red, as PNG (needs extra['quality_model'])",
    response_class=Response,
)
def review_map(request: Request, queue: Queue, inspection_id: InspectionId) -> Response:
    from PIL import Image, UnidentifiedImageError

    from forewarn.quality.images import decode, overlay_png
    from forewarn.quality.inspection import defect_map

    path = _image_path(request, queue, inspection_id)
    model = model_of(request)
    try:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("L"), dtype=float) / 255.0
        batch = decode(path, model.size)[None, None]
    except (UnidentifiedImageError, OSError, SchemaError):
        raise HTTPException(status_code=422, detail=f"the file of inspection {inspection_id} is not an image") from None
    with _infer_lock:
        heat = defect_map(model, batch)[0]
    return Response(overlay_png(grey, heat), media_type="image/png")


@router.post(
    "/reviews/{inspection_id}/verdict",
    dependencies=[Depends(require_token)],
    summary="Store a reviewer's verdict (reviewed units become training labels: forewarn quality train --reviews)",
)
def verdict(queue: Queue, inspection_id: InspectionId, body: VerdictRequest) -> dict[str, Any]:
    return queue.verdict(inspection_id, body.verdict, by=body.by, defect_type=body.defect_type)


@router.get("/report", summary="Per line: units, reject and review rates, mean defect probability, Pareto by type")
def report(queue: Queue) -> list[dict[str, Any]]:
    return queue.report()


@pages.get("/quality")
def quality_page() -> HTMLResponse:
    """The quality page: review queue with images and verdict buttons, per-line report, an SPC chart."""
    from forewarn.serve.dashboard.pages import _render

    return _render("quality", "Quality")
