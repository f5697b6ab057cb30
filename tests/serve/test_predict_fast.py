"""The predict fast paths give the same answers as the slow ones they replace.

* bodies read by orjson into numpy are accepted exactly when the pydantic schema accepts them, with the same
  values; malformed ones get a 422 naming the field;
* the no-gap branch of the last-row features equals the batch window features;
* the bundle's direct booster call equals the estimator's own ``explain`` and ``predict``;
* columnar JSON, table JSON and Arrow batches give the same predictions.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from forewarn.bundles.bundle import Bundle
from forewarn.bundles.contrib import RowContributions
from forewarn.bundles.treeshap import PathTables
from forewarn.decide.risk import health_score, risk_level
from forewarn.features.last_row import last_row_features
from forewarn.features.window import STATS, window_features
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.api.bodies import load_json, parse_batch, parse_window
from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.routes_predict import health_scores, risk_levels
from forewarn.serve.api.schemas import BatchPredictRequest, PredictRequest

API = "/api/v1"
TOKEN = "test-token-0123456789"

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
good_cell = st.one_of(finite, st.integers(-(10**6), 10**6), st.none())
# what a client may put where a reading belongs: numbers, gaps, and things the schema must judge
cell = st.one_of(good_cell, st.booleans(), st.sampled_from(["1.5", "hot", ""]), st.lists(finite, max_size=2))
good_name = st.sampled_from(["a", "b", "c"])
name = st.sampled_from(["a", "b", "c", "", "x\x01"])
good_rows = st.lists(st.dictionaries(good_name, good_cell, min_size=1, max_size=3), min_size=1, max_size=4)
dense_rows = st.integers(1, 3).flatmap(
    lambda k: st.lists(
        st.fixed_dictionaries({c: st.one_of(finite, st.integers(-(10**6), 10**6)) for c in "abc"[:k]}),
        min_size=1,
        max_size=4,
    )
)
good_table = st.lists(good_name, min_size=1, max_size=3, unique=True).flatmap(
    lambda cols: st.tuples(
        st.just(cols), st.lists(st.lists(good_cell, min_size=len(cols), max_size=len(cols)), min_size=1, max_size=4)
    )
)


def _pydantic(model: type, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


# -- bodies ----------------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@example(rows=[{"a": [0.0]}], extra={})  # one channel: a list where a number belongs
@example(rows=[{"a": 1.0, "b": 2.0}, {"b": 3.0, "a": None}], extra={})
@given(
    rows=st.one_of(dense_rows, good_rows, st.lists(st.dictionaries(name, cell, max_size=3), max_size=4)),
    extra=st.sampled_from([{}, {"model_id": "rul"}, {"model_id": "bad id"}, {"asset_class": "pump"}, {"x": 1}]),
)
def test_window_bodies_are_accepted_exactly_when_the_schema_accepts_them(
    rows: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    data = {"rows": rows, **extra}
    expected = _pydantic(PredictRequest, data)
    payload = json.dumps(data).encode()
    if expected is None:
        with pytest.raises(RequestValidationError) as caught:
            parse_window(payload, "application/json")
        assert all(e["loc"][0] == "body" for e in caught.value.errors())
        return
    body = parse_window(payload, "application/json")
    assert (body.model_id, body.asset_class) == (expected.model_id, expected.asset_class)
    channels = ["a", "b", "c"]
    want = np.array(
        [[np.nan if row.get(c) is None else row[c] for c in channels] for row in expected.rows], dtype="float64"
    ).reshape(len(rows), 3)
    np.testing.assert_array_equal(body.matrix(channels), want)
    assert body.channels == {c for row in expected.rows for c in row}


@settings(max_examples=150, deadline=None)
@given(
    columns=st.one_of(
        st.integers(1, 4).flatmap(
            lambda n: st.dictionaries(good_name, st.lists(good_cell, min_size=n, max_size=n), min_size=1, max_size=3)
        ),
        st.dictionaries(name, st.lists(cell, min_size=0, max_size=4), max_size=3),
    )
)
def test_feature_columns_are_accepted_exactly_when_the_schema_accepts_them(columns: dict[str, list[Any]]) -> None:
    data = {"features": columns}
    expected = _pydantic(BatchPredictRequest, data)
    payload = json.dumps(data).encode()
    if expected is None:
        with pytest.raises(RequestValidationError):
            parse_batch(payload, None)
        return
    frame = parse_batch(payload, None).features
    assert frame is not None and list(frame.columns) == list(expected.features)
    for key, values in expected.features.items():
        np.testing.assert_array_equal(frame[key].to_numpy(), np.array(values, dtype="float64"))


@settings(max_examples=150, deadline=None)
@given(
    table=st.one_of(
        good_table, st.tuples(st.lists(name, min_size=0, max_size=3), st.lists(st.lists(cell, max_size=3), max_size=4))
    )
)
def test_feature_tables_are_accepted_exactly_when_the_schema_accepts_them(
    table: tuple[list[str], list[list[Any]]],
) -> None:
    columns, data = table
    body = {"table": {"columns": columns, "data": data}}
    expected = _pydantic(BatchPredictRequest, body)
    payload = json.dumps(body).encode()
    if expected is None:
        with pytest.raises(RequestValidationError):
            parse_batch(payload, None)
        return
    frame = parse_batch(payload, None).features
    assert frame is not None and list(frame.columns) == expected.table.columns
    np.testing.assert_array_equal(frame.to_numpy(), np.array(expected.table.data, dtype="float64"))


def test_bad_json_and_content_type_are_422_never_500() -> None:
    with pytest.raises(FieldError, match="not valid JSON"):
        load_json(b'{"rows": [', "application/json")
    with pytest.raises(FieldError, match="Content-Type application/json"):
        load_json(b"{}", "text/plain")
    with pytest.raises(FieldError, match="empty"):
        load_json(b"", None)
    with pytest.raises(FieldError, match="not valid JSON"):
        load_json(b"[" * 100_000, None)  # deeper than either parser goes
    assert load_json(b'{"a": 1}', "application/merge-patch+json") == ({"a": 1}, True)
    # NaN is not JSON, but Python reads it: the schema then names the field
    with pytest.raises(RequestValidationError) as caught:
        parse_window(b'{"rows": [{"a": NaN}]}', None)
    assert caught.value.errors()[0]["loc"] == ("body", "rows", 0, "a")
    with pytest.raises(RequestValidationError):
        parse_batch(b'{"features": {"a": [1.0, Infinity]}}', None)


# -- features and model -----------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 50),
    k=st.integers(1, 4),
    window=st.integers(1, 20),
    span=st.floats(1, 20),
    seed=st.integers(0, 2**16),
)
def test_dense_last_row_equals_batch_features(n: int, k: int, window: int, span: float, seed: int) -> None:
    values = np.random.default_rng(seed).normal(50, 10, size=(n, k))
    names = [f"c{j}" for j in range(k)]
    frame = pd.DataFrame(values, columns=names).assign(unit=1, step=np.arange(n))
    batch = window_features(frame, group="unit", order="step", columns=names, window=window, ewm_span=span, stats=STATS)
    fast = last_row_features(values, names, window=window, stats=STATS, ewm_span=span)
    np.testing.assert_allclose(fast, batch.iloc[-1].to_numpy(dtype="float64"), rtol=1e-7, atol=1e-6)


def test_direct_booster_equals_the_estimators_explain(sample) -> None:  # type: ignore[no-untyped-def]
    bundle = Bundle(sample.models / "rul" / "v2")
    assert bundle._booster is not None  # the sample's LightGBM model takes the direct path
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(40, len(bundle.feature_names))) * 5 + 20, columns=bundle.feature_names)
    X.iloc[3, 2] = np.nan
    predictions, contributions = bundle.predict_and_explain(X)
    expected = bundle.model.explain(X)
    assert list(contributions.columns) == list(expected.columns)
    np.testing.assert_array_equal(contributions.to_numpy(), expected.to_numpy())
    np.testing.assert_allclose(predictions.rul, np.maximum(bundle.model.predict(X), 0.0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(predictions.probability, bundle.predict(X).probability, rtol=1e-12)
    with pytest.raises(ValueError, match="not finite"):  # infinities still meet the estimator's checks
        bundle.predict_and_explain(X.assign(**{bundle.feature_names[0]: np.inf}))
    assert isinstance(bundle._one_row, PathTables)  # one row is explained from tables (a small model)
    for i in (0, 3, 39):
        one, row = bundle.predict_and_explain(X.iloc[[i]])
        np.testing.assert_allclose(row.to_numpy(), expected.iloc[[i]].to_numpy(), rtol=1e-12, atol=1e-12)
        assert one.rul[0] == pytest.approx(predictions.rul[i], rel=1e-12)


def test_row_contributions_answer_none_when_busy(sample) -> None:  # type: ignore[no-untyped-def]
    bundle = Bundle(sample.models / "rul" / "v1")
    row = RowContributions.of(bundle.model.booster_)
    assert row is not None
    x = np.linspace(-1, 1, len(bundle.feature_names))
    np.testing.assert_allclose(row(x), bundle.model.booster_.predict(x[None, :], pred_contrib=True)[0], rtol=1e-12)
    assert row(x[:-1]) is None  # wrong width: the caller falls back
    with row._lock:  # another thread computing: the caller falls back instead of waiting
        assert row(x) is None


def test_vectorised_levels_and_health_equal_the_scalar_ones() -> None:
    rng = np.random.default_rng(2)
    # uniform draws, and probabilities with 4-5 decimals, whose health (100 (1 - p)) often ends in a half tenth
    p = np.concatenate(
        [
            rng.uniform(-0.1, 1.1, 500),
            np.round(rng.uniform(0, 1, 3000), 4),
            np.round(rng.uniform(0, 1, 3000), 5),
            [0.0, 0.05, 0.1, 0.55, 1.0, 0.0005, 0.00035, np.nan],
        ]
    )
    for threshold in (0.0, 0.1, 0.5, 1.0, 1.3):
        assert risk_levels(p, threshold) == [risk_level(v, threshold) for v in p]
    got = health_scores(p).tolist()
    want = [health_score(v) for v in p]
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, want, strict=True))


# -- the API ------------------------------------------------------------------------------------------------------
@pytest.fixture
def client(sample) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings_ = ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings_)) as c:
        yield c


def _arrow(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_columnar_table_and_arrow_batches_agree(client: TestClient) -> None:
    names = client.get(f"{API}/models/rul").json()["live"]
    features = [f"{c}__{s}" for c in names["channels"] for s in ("mean", "std", "last", "slope", "ewm")]
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(500, len(features))) * 3 + 10, columns=features)
    frame.iloc[7, 4] = np.nan
    columnar = client.post(
        f"{API}/predict/batch",
        json={"features": {c: [None if math.isnan(v) else v for v in frame[c]] for c in features}},
    )
    table = client.post(
        f"{API}/predict/batch",
        json={
            "table": {
                "columns": features[::-1],
                "data": [
                    [None if math.isnan(v) else v for v in row] for row in frame[features[::-1]].itertuples(index=False)
                ],
            }
        },
    )
    arrow = client.post(
        f"{API}/predict/batch/arrow",
        content=_arrow(frame),
        headers={"Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert columnar.status_code == table.status_code == arrow.status_code == 200
    a, b = columnar.json(), table.json()
    out = pa.ipc.open_stream(arrow.content).read_all().to_pandas()
    assert a["n_rows"] == b["n_rows"] == len(out) == 500
    for key in ("probability", "rul", "rul_low", "rul_high"):
        assert a[key] == b[key]
        np.testing.assert_allclose(a[key], out[key].to_numpy(), rtol=1e-12)
    assert a["risk_level"] == b["risk_level"] and a["health"] == b["health"]
    assert a["health"][0] == health_score(a["probability"][0])


def test_malformed_batches_name_the_field(client: TestClient) -> None:
    def detail(body: Any, **kwargs: Any) -> list[dict[str, Any]]:
        response = (
            client.post(f"{API}/predict/batch", json=body, **kwargs)
            if body is not None
            else client.post(f"{API}/predict/batch", **kwargs)
        )
        assert response.status_code == 422, response.text
        return response.json()["detail"]

    text = detail({"features": {"a__mean": [1.0, 2.0, "hot"], "b__mean": [1.0, 2.0, 3.0]}})
    assert text[0]["loc"] == ["body", "features", "a__mean", 2]
    uneven = detail({"features": {"a__mean": [1.0, 2.0], "b__mean": [1.0]}})
    assert "'b__mean' has 1 values" in uneven[0]["msg"]
    ragged = detail({"table": {"columns": ["a", "b"], "data": [[1.0, 2.0], [3.0]]}})
    assert "row 1 of data has 1 values" in ragged[0]["msg"]
    twice = detail({"table": {"columns": ["a", "a"], "data": [[1.0, 2.0]]}})
    assert "more than once" in twice[0]["msg"]
    nested = detail({"table": {"columns": ["a"], "data": [[[1.0]]]}})
    assert nested[0]["loc"][:5] == ["body", "table", "data", 0, 0]
    nan = detail(None, content=b'{"features": {"a__mean": [1.0, NaN]}}', headers={"Content-Type": "application/json"})
    assert nan[0]["loc"] == ["body", "features", "a__mean", 1]
    assert "exactly one" in detail({"features": {"a": [1.0]}, "table": {"columns": ["a"], "data": [[1.0]]}})[0]["msg"]
    missing = client.post(f"{API}/predict/batch", json={"table": {"columns": ["vibration__mean"], "data": [[1.0]]}})
    assert missing.status_code == 422 and "missing feature column" in missing.json()["detail"][0]["msg"]
    assert detail(None, content=b"{", headers={"Content-Type": "application/json"})[0]["loc"][0] == "body"
    assert detail(None, content=b"{}", headers={"Content-Type": "text/csv"})[0]["loc"] == ["body"]


def test_window_with_gaps_ints_and_foreign_channels_matches_batch_readings(client: TestClient) -> None:
    readings = client.get(f"{API}/assets/P-007/readings", params={"limit": 80}).json()
    rows: list[dict[str, Any]] = [
        {c: readings["values"][c][i] for c in readings["values"]} for i in range(len(readings["ts"]))
    ]
    rows[10]["vibration"] = None
    del rows[20]["bearing_temp"]
    rows[30]["suction_pressure"] = round(rows[30]["suction_pressure"])  # an int on the wire
    rows[40]["colour"] = 3.0
    predicted = client.post(f"{API}/predict", json={"rows": rows})
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["ignored_channels"] == ["colour"]
    channels = ["bearing_temp", "vibration", "suction_pressure"]
    values = {c: [row.get(c) for row in rows] for c in channels}
    batch = client.post(
        f"{API}/predict/batch",
        json={"readings": {"asset_id": ["P-007"] * len(rows), "ts": readings["ts"], "values": values}},
    ).json()
    assert predicted.json()["rul"] == pytest.approx(batch["rul"][-1], rel=1e-9)
    assert predicted.json()["probability"] == pytest.approx(batch["probability"][-1], rel=1e-9)
    # the same window through the schema's slow path (a boolean makes the fast path step aside)
    rows[50]["colour"] = True
    slow = client.post(f"{API}/predict", json={"rows": rows}).json()
    assert slow["rul"] == predicted.json()["rul"] and slow["contributions"] == predicted.json()["contributions"]


def test_window_errors_name_the_field(client: TestClient) -> None:
    bad = client.post(f"{API}/predict", json={"rows": [{"vibration": 1.0}, {"vibration": [1.0]}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:4] == ["body", "rows", 1, "vibration"]
    unknown = client.post(f"{API}/predict", json={"rows": [{"vibration": 1.0}], "colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "colour"]
    wrong_type = client.post(f"{API}/predict", content=b'{"rows": []}', headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 422


def test_openapi_documents_the_raw_bodies(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for path, model in (("/api/v1/predict", "PredictRequest"), ("/api/v1/predict/batch", "BatchPredictRequest")):
        body = schema["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert model in components
    assert "table" in components["BatchPredictRequest"]["properties"] and "FeatureTable" in components
