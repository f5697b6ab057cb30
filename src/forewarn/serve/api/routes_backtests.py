"""Backtests: the result files ``forewarn backtest ... --models DIR`` writes to ``DIR/backtests/<id>.json``.

The service only reads them: ``GET /backtests`` lists them newest first (a file that cannot be read is listed with
the reason in ``error``), ``GET /backtests/{id}`` answers one, checked field by field. A missing file is a 404, a
file that is not valid JSON or lacks a field is a 422 naming the file and the field; neither is ever a 500.
Non-finite numbers (``NaN`` in a file written by Python's ``json``) are answered as ``null``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import ValidationError

from forewarn.exceptions import DataNotFoundError
from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.schemas import ERRORS, Backtest, BacktestSummary

router = APIRouter(tags=["backtests"], responses=ERRORS)
#: the same rule as model ids: letters, digits, '.', '_', '-' (a file stem, no path tricks)
NAME_RULE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
BacktestId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=NAME_RULE)]
_NAME = re.compile(NAME_RULE)
FOLDER = "backtests"
MAX_FILE_BYTES = 32 * 1024 * 1024
_LOC = ["path", "backtest_id"]


class BadBacktest(Exception):
    """A backtest file that cannot be read or does not fit the schema (answered as 422)."""


def backtests_folder(request: Request) -> Path | None:
    """``<models>/backtests``, or ``None`` when the service has no models folder."""
    models = request.app.state.settings.models
    return None if models is None else Path(models) / FOLDER


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def read_backtest(file: Path) -> Backtest:
    """One backtest file, checked; raises :class:`BadBacktest` with a message that names the file and the field."""
    name = file.name
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadBacktest(f"backtest file {name!r} is too large ({size} bytes; at most {MAX_FILE_BYTES})")
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadBacktest(f"backtest file {name!r} is not UTF-8 text") from None
    except OSError as err:
        raise BadBacktest(f"backtest file {name!r} cannot be read: {err.strerror or err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadBacktest(
            f"backtest file {name!r} is not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}"
        ) from None
    if not isinstance(data, dict):
        raise BadBacktest(f"backtest file {name!r} must hold a JSON object, not {type(data).__name__}")
    data = _finite({**data, "id": file.stem})
    try:
        return Backtest.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
        raise BadBacktest(f"backtest file {name!r}: field {field!r}: {first['msg']}{more}") from None


def _summary(file: Path) -> BacktestSummary:
    try:
        b = read_backtest(file)
    except BadBacktest as err:
        return BacktestSummary(id=file.stem, error=str(err))
    return BacktestSummary(
        id=b.id,
        created=b.created,
        task=b.task,
        by=b.by,
        folds=b.folds,
        model=b.model,
        horizon_hours=b.horizon_hours,
        threshold=b.threshold,
        failures=b.events.failures,
        caught=b.events.caught,
        caught_share=b.events.caught_share,
        false_cases_per_asset_year=b.events.false_cases_per_asset_year,
        cost=b.events.cost,
    )


def _newest_first(item: BacktestSummary) -> tuple[int, float, str]:
    if item.created is None:
        return (1, 0.0, item.id)
    created = item.created if item.created.tzinfo else item.created.replace(tzinfo=UTC)
    return (0, -created.timestamp(), item.id)


@router.get(
    "/backtests",
    response_model=list[BacktestSummary],
    summary="Backtests in <models>/backtests/, newest first (unreadable files listed with the reason)",
)
def list_backtests(request: Request) -> list[BacktestSummary]:
    folder = backtests_folder(request)
    if folder is None or not folder.is_dir():
        return []
    files = [f for f in folder.glob("*.json") if f.is_file() and _NAME.match(f.stem)]
    return sorted((_summary(f) for f in files), key=_newest_first)


@router.get(
    "/backtests/{backtest_id}",
    response_model=Backtest,
    summary="One backtest: metrics, event-level figures, threshold sweep, reliability bins and folds",
)
def get_backtest(request: Request, backtest_id: BacktestId) -> dict[str, Any]:
    folder = backtests_folder(request)
    if folder is None:
        raise DataNotFoundError(
            "no models folder is configured, so there are no backtests; start the service with "
            "--models DIR (backtests are read from DIR/backtests/)"
        )
    file = folder / f"{backtest_id}.json"
    if not file.is_file():
        known = sorted(f.stem for f in folder.glob("*.json")) if folder.is_dir() else []
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "") if known else "none"
        raise DataNotFoundError(f"no backtest {backtest_id!r} in {str(folder)!r}; known: {shown}")
    try:
        backtest = read_backtest(file)
    except BadBacktest as err:
        raise FieldError(_LOC, str(err)) from None
    return backtest.model_dump(mode="json")
