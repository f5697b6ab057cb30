"""Bodies of the predict endpoints, parsed with orjson straight into numpy; pydantic is the referee.

FastAPI's own body handling (stdlib ``json``, then a pydantic check of every float, then a DataFrame) costs
more than the prediction of one window, and most of a JSON batch's time. The predict endpoints therefore
read the raw body: a fast path accepts the common shape of a valid body (numbers or ``null`` where numbers
belong, names that fit the schema) and builds the numpy arrays in the same pass, with vectorised checks of
shape and finiteness. Any body the fast path does not accept goes to the pydantic model of the body
(:mod:`forewarn.serve.api.schemas`), which either accepts it (the fast path is only a subset of the schema)
or answers a 422 naming every bad field, as FastAPI would. The schema stays the one definition of a valid
body, and the test suite checks that both paths agree.

>>> body = parse_window(b'{"rows": [{"temp": 1.5, "vib": 3}, {"temp": null}]}', "application/json")
>>> sorted(body.channels), body.matrix(["temp", "vib", "flow"]).tolist()
(['temp', 'vib'], [[1.5, 3.0, nan], [nan, nan, nan]])
>>> batch = parse_batch(b'{"table": {"columns": ["a", "b"], "data": [[1, 2.5], [null, 4]]}}', None)
>>> batch.kind, batch.features.columns.tolist(), batch.features.to_numpy().tolist()
('features', ['a', 'b'], [[1.0, 2.5], [nan, 4.0]])
>>> parse_window(b'{"rows": [{"temp": "hot"}]}', None)
Traceback (most recent call last):
...
fastapi.exceptions.RequestValidationError: ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.schemas import MAX_WINDOW_ROWS, BatchPredictRequest, PredictRequest, WideColumns

_IDENT = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_WINDOW_KEYS = frozenset({"model_id", "asset_class", "rows", "age_h"})
_NUMBER_TYPES = frozenset({int, float})  # what orjson reads a JSON number as (bool is neither)
_BATCH_KEYS = frozenset({"model_id", "asset_class", "features", "table", "readings"})


def load_json(payload: bytes, content_type: str | None) -> tuple[Any, bool]:
    """The JSON value of a request body and whether orjson read it (then every float in it is finite), or a 422
    that says what is wrong with the body.

    >>> load_json(b'{"a": [1, 2.5]}', "application/json; charset=utf-8")
    ({'a': [1, 2.5]}, True)
    >>> load_json(b'[NaN]', None)  # Python's json reads NaN: the schema will name the field
    ([nan], False)
    """
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
            raise FieldError(
                ["body"],
                f"the body must be JSON sent with Content-Type application/json, not {media or 'an empty type'}",
            )
    if not payload:
        raise FieldError(["body"], "the body is empty; send a JSON object")
    try:
        return orjson.loads(payload), True
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson refuses but Python's json reads (NaN, Infinity, huge integers): the schema names the field
        return json.loads(payload), False
    except (ValueError, RecursionError) as err:
        position = getattr(err, "pos", 0)
        raise FieldError(["body", position], f"the body is not valid JSON ({err}); send UTF-8 JSON") from None


def _validated(model: type[BaseModel], data: Any) -> Any:
    """``model`` checked by pydantic; its errors become FastAPI's 422 with ``body`` in front of each location."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = [{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in err.errors()]
        raise RequestValidationError(errors) from None


def _optional(data: dict[str, Any], key: str, pattern: re.Pattern[str]) -> bool:
    value = data.get(key)
    return value is None or (type(value) is str and pattern.fullmatch(value) is not None)


def _idents(names: Iterable[Any]) -> bool:
    return all(type(n) is str and _IDENT.fullmatch(n) is not None for n in names)


# -- one window --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A valid ``POST /predict`` body: rows of ``channel -> reading`` (``None``: a gap), oldest first.

    ``values`` holds every row's readings of ``names`` when every row names the same channels without a gap
    (the common case, read in one numpy call); otherwise the rows are read per channel when asked.
    """

    model_id: str | None
    asset_class: str | None
    rows: list[dict[str, Any]]
    channels: frozenset[str]
    names: tuple[str, ...] = ()
    values: np.ndarray | None = None
    age_h: float | None = None  # hours since the asset's last renewal at the last row (None: not given)

    def matrix(self, channels: Sequence[str]) -> np.ndarray:
        """Rows x ``channels`` as float64; a gap or a channel a row does not name is NaN (not to be written to:
        when ``channels`` are the body's own, in its order, this is :attr:`values` itself)."""
        if self.values is not None and self.names == tuple(channels):
            return self.values
        if self.values is not None:
            out = np.full((len(self.rows), len(channels)), np.nan)
            for j, channel in enumerate(channels):
                if channel in self.channels:
                    out[:, j] = self.values[:, self.names.index(channel)]
            return out
        return np.array([[row.get(c) for c in channels] for row in self.rows], dtype="float64").reshape(
            len(self.rows), len(channels)
        )


def _dense(rows: list[Any]) -> tuple[tuple[str, ...], np.ndarray] | None:
    """Channel names and readings when every row is an object naming the same channels with numbers only.

    The checks and the conversion run over whole lists (``map``, ``set``, one flat ``np.array`` with its dtype
    given), with no Python loop per row or per reading.
    """
    first = rows[0]
    if type(first) is not dict or not first:
        return None
    names = tuple(first)
    if set(map(type, rows)) != {dict} or set(map(len, rows)) != {len(names)}:
        return None  # a row that is not an object, or with channels beyond the first row's
    try:
        cells = list(map(itemgetter(*names), rows))  # one name: the value itself; several: a tuple per row
    except KeyError:  # a row that lacks one of the first row's channels
        return None
    flat = cells if len(names) == 1 else list(chain.from_iterable(cells))
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        return None  # gaps, text, booleans, lists: the slow loop or the schema decides
    return names, np.array(flat, dtype="float64").reshape(len(rows), len(names))


def _fast_window(data: Any) -> Window | None:
    if type(data) is not dict or not data.keys() <= _WINDOW_KEYS:
        return None
    rows = data.get("rows")
    if type(rows) is not list or not 1 <= len(rows) <= MAX_WINDOW_ROWS:
        return None
    if not (_optional(data, "model_id", _NAME) and _optional(data, "asset_class", _IDENT)):
        return None
    age = data.get("age_h")
    if age is not None and (type(age) not in _NUMBER_TYPES or age < 0):
        return None  # the schema names what is wrong
    dense = _dense(rows)
    if dense is not None:
        names, values = dense
        if not _idents(names):
            return None
        return Window(data.get("model_id"), data.get("asset_class"), rows, frozenset(names), names, values, age)
    channels: set[str] = set()
    for row in rows:
        if type(row) is not dict:
            return None
        for value in row.values():
            # orjson yields only finite floats; bools and strings go to the schema, which decides
            if value is not None and type(value) is not float and type(value) is not int:
                return None
        channels.update(row)
    if not _idents(channels):
        return None
    return Window(data.get("model_id"), data.get("asset_class"), rows, frozenset(channels), age_h=age)


def parse_window(payload: bytes, content_type: str | None) -> Window:
    """The body of ``POST /predict`` (see :class:`~forewarn.serve.api.schemas.PredictRequest`)."""
    data, finite = load_json(payload, content_type)
    fast = _fast_window(data) if finite else None
    if fast is not None:
        return fast
    body = _validated(PredictRequest, data)
    rows = [dict(row) for row in body.rows]
    return Window(body.model_id, body.asset_class, rows, frozenset(c for row in rows for c in row), age_h=body.age_h)


# -- batches -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    """A valid ``POST /predict/batch`` body: feature rows, or wide readings (model features computed later)."""

    model_id: str | None
    asset_class: str | None
    kind: str  # "features" or "readings"
    where: list[Any]  # location of the rows in the body, for error messages
    features: pd.DataFrame | None = None
    readings: WideColumns | None = None


def _numbers(values: Any) -> np.ndarray | None:
    """A JSON array of finite numbers and nulls as float64 (null: NaN), or ``None`` when it holds anything else.

    Vectorised: numpy reads the whole array and its dtype says what was sent.
    """
    try:
        array = np.array(values)
    except (ValueError, OverflowError):  # ragged nesting
        return None
    if array.dtype.kind in "iuf":
        out = array.astype("float64", copy=False)
        return out if np.isfinite(out).all() else None
    if array.dtype.kind != "O":
        return None  # strings, bools alone: the schema decides
    gaps = np.equal(array, None)
    rest = array[~gaps]
    try:
        numbers = np.array(rest.tolist()) if len(rest) else np.empty(0)
    except (ValueError, OverflowError):
        return None
    if numbers.dtype.kind not in "iuf" or numbers.ndim != 1 or not np.isfinite(numbers).all():
        return None
    out = np.full(array.shape, np.nan)
    out[~gaps] = numbers
    return out


def _fast_features(columns: Any) -> pd.DataFrame | None:
    if type(columns) is not dict or not columns or not _idents(columns):
        return None
    arrays = {}
    for name, values in columns.items():
        if type(values) is not list:
            return None
        array = _numbers(values)
        if array is None or array.ndim != 1:
            return None
        arrays[name] = array
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1 or lengths == {0}:
        return None
    return pd.DataFrame(arrays, copy=False)


def _fast_table(table: Any) -> pd.DataFrame | None:
    if type(table) is not dict or table.keys() != {"columns", "data"}:
        return None
    columns, data = table["columns"], table["data"]
    if type(columns) is not list or not columns or not _idents(columns) or len(set(columns)) != len(columns):
        return None
    if type(data) is not list or not data or not all(type(row) is list for row in data):
        return None
    matrix = _numbers(data)
    if matrix is None or matrix.ndim != 2 or matrix.shape[1] != len(columns):
        return None
    return pd.DataFrame(matrix, columns=pd.Index(columns, dtype=object), copy=False)


def _fast_batch(data: Any) -> Batch | None:
    if type(data) is not dict or not data.keys() <= _BATCH_KEYS:
        return None
    if not (_optional(data, "model_id", _NAME) and _optional(data, "asset_class", _IDENT)):
        return None
    given = [k for k in ("features", "table", "readings") if data.get(k) is not None]
    if len(given) != 1 or given[0] == "readings":
        return None
    key = given[0]
    frame = _fast_features(data[key]) if key == "features" else _fast_table(data[key])
    if frame is None:
        return None
    return Batch(data.get("model_id"), data.get("asset_class"), "features", ["body", key], features=frame)


def parse_batch(payload: bytes, content_type: str | None) -> Batch:
    """The body of ``POST /predict/batch`` (see :class:`~forewarn.serve.api.schemas.BatchPredictRequest`)."""
    data, finite = load_json(payload, content_type)
    fast = _fast_batch(data) if finite else None
    if fast is not None:
        return fast
    body = _validated(BatchPredictRequest, data)
    if body.features is not None:
        frame = pd.DataFrame({k: np.array(v, dtype="float64") for k, v in body.features.items()})
        return Batch(body.model_id, body.asset_class, "features", ["body", "features"], features=frame)
    if body.table is not None:
        frame = pd.DataFrame(
            np.array(body.table.data, dtype="float64").reshape(len(body.table.data), -1),
            columns=pd.Index(body.table.columns, dtype=object),
        )
        return Batch(body.model_id, body.asset_class, "features", ["body", "table"], features=frame)
    return Batch(body.model_id, body.asset_class, "readings", ["body", "readings"], readings=body.readings)


# -- the OpenAPI schema ----------------------------------------------------------------------------------------
REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads ``model`` from its raw body (see :func:`body_components`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    }


def body_components(models: Iterable[type[BaseModel]] = (PredictRequest, BatchPredictRequest)) -> dict[str, Any]:
    """JSON schemas of the models read from raw bodies, for ``components/schemas`` of the OpenAPI document.

    >>> sorted(body_components())
    ['BatchPredictRequest', 'FeatureTable', 'PredictRequest', 'WideColumns']
    """
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
