"""Request and response bodies of the API (pydantic): every field is checked, and a bad one is named in the 422."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: identifiers: printable text without control characters
Ident = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Finite = Annotated[float, Field(allow_inf_nan=False)]
MAX_ROWS = 100_000
MAX_WINDOW_ROWS = 10_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- readings -----------------------------------------------------------------------------------------------
class LongReading(Strict):
    asset_id: Ident
    ts: datetime = Field(description="ISO 8601 time; without a zone it is read as UTC")
    channel: Ident
    value: Finite | None = Field(description="the reading; null is a gap")


class WideRow(Strict):
    asset_id: Ident
    ts: datetime
    values: dict[Ident, Finite | None] = Field(min_length=1, description="channel -> reading")


class ReadingsIngest(Strict):
    """Readings to store: ``readings`` (long, one per row) and/or ``rows`` (wide, one instant per row)."""

    readings: list[LongReading] = Field(default_factory=list, max_length=MAX_ROWS)
    rows: list[WideRow] = Field(default_factory=list, max_length=MAX_ROWS)
    strict: bool = Field(False, description="reject readings of assets the store does not know")

    @model_validator(mode="after")
    def _something(self) -> ReadingsIngest:
        if not self.readings and not self.rows:
            raise ValueError("send at least one reading in 'readings' or 'rows'")
        return self


#: the times an event may have: those the health and case computations hold (nanoseconds since 1970, pandas' range)
EARLIEST_EVENT, LATEST_EVENT = datetime(1678, 1, 1), datetime(2262, 1, 1)


class EventIn(Strict):
    asset_id: Ident
    ts: datetime = Field(description="ISO 8601 time; without a zone it is read as UTC")
    kind: Literal["failure", "maintenance", "inspection"]
    failure_mode: Ident | None = None
    action: Ident | None = Field(None, description="what was done (a maintenance that replaces or repairs renews)")
    parts: Annotated[str, Field(max_length=2000)] | None = None
    result: Annotated[str, Field(max_length=2000)] | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None

    @field_validator("ts")
    @classmethod
    def _held(cls, ts: datetime) -> datetime:
        naive = ts.replace(tzinfo=None) if ts.tzinfo is None else ts.astimezone(UTC).replace(tzinfo=None)
        if not EARLIEST_EVENT <= naive <= LATEST_EVENT:
            raise ValueError(f"an event time from {EARLIEST_EVENT:%Y-%m-%d} to {LATEST_EVENT:%Y-%m-%d} (UTC)")
        return ts


class EventsIngest(Strict):
    """Events to store: what happened to assets (a failure, a maintenance, an inspection), as a CMMS records it."""

    events: list[EventIn] = Field(min_length=1, max_length=MAX_ROWS)
    strict: bool = Field(False, description="reject events of assets the store does not know")


class IngestResult(BaseModel):
    source: str
    rows_read: int
    written: int
    duplicates: int
    assets_created: list[str]
    alerts_opened: int


class EventsResult(IngestResult):
    cases_closed: list[int] = Field(description="cases closed because a recorded maintenance renewed the asset")


# -- health and predictions -----------------------------------------------------------------------------------
class Contribution(BaseModel):
    sensor: str
    contribution: float | None = Field(description="push towards failure (positive raises risk)")


class Health(BaseModel):
    asset_id: str
    asset_class: str
    site_id: str | None
    line_id: str | None
    name: str
    ts: str | None = Field(description="time of the latest reading scored")
    model_id: str
    version: str
    health: float | None = Field(description="0 (will fail) to 100 (healthy)")
    probability: float | None = Field(
        description="calibrated probability of failure within the horizon, or of `label` being set at the reading "
        "when the model learned a stored label"
    )
    horizon: float
    label: str | None = Field(
        default=None,
        description="the stored label the model was trained on (`forewarn train --label NAME`): its probability is "
        "of that label being set, whatever the label means to the plant; null when it learned failures from the "
        "events (probability of a failure within `horizon` hours)",
    )
    unit: str
    rul: float | None
    rul_low: float | None
    rul_high: float | None
    risk_level: str
    threshold: float | None
    recommended_action: str
    contributions: list[Contribution]
    open_case: int | None
    status: str | None = Field(
        default=None,
        description="'in_service'; 'down' when the latest failure has no maintenance after it (health 0, not "
        "scored); 'insufficient data' when the window holds readings of less than the minimum share of the channels "
        "the asset's class sends (FOREWARN_MIN_CHANNEL_SHARE, default 0.75): no health, probability or RUL",
    )
    renewed_at: str | None = Field(
        default=None, description="the latest maintenance: readings before it are not in the window"
    )
    channels_missing: list[str] = Field(
        default_factory=list,
        description="channels the asset is expected to send with no reading in the scoring window (a warning when "
        "it is scored)",
    )


class PredictRequest(Strict):
    """One window of readings of one asset, oldest first; the prediction is for the last row."""

    model_id: Name | None = None
    asset_class: Ident | None = None
    rows: list[dict[Ident, Finite | None]] = Field(
        min_length=1, max_length=MAX_WINDOW_ROWS, description="channel -> reading, one dict per instant"
    )
    age_h: Finite | None = Field(
        None,
        ge=0,
        description="hours since the asset's last renewal (install, replacement, overhaul) at the last row: read by "
        "models trained with the age feature (GET /api/v1/models: live.age_feature); unknown when left out",
    )


class Prediction(BaseModel):
    model_id: str
    version: str
    health: float | None
    probability: float | None
    threshold: float | None
    rul: float | None
    rul_low: float | None
    rul_high: float | None
    risk_level: str
    recommended_action: str
    contributions: list[Contribution]
    ignored_channels: list[str]
    status: str = Field(
        default="in_service",
        description="'in_service', or 'insufficient data' when the window holds readings of less than the minimum "
        "share of the model's channels (FOREWARN_MIN_CHANNEL_SHARE, default 0.75): no health, probability or RUL",
    )
    channels_missing: list[str] = Field(
        default_factory=list,
        description="the model's channels with no reading in the window (a warning when it is scored)",
    )


class WideColumns(Strict):
    asset_id: list[Ident] = Field(min_length=1, max_length=1_000_000)
    ts: list[datetime] = Field(min_length=1, max_length=1_000_000)
    values: dict[Ident, list[Finite | None]] = Field(min_length=1)

    @model_validator(mode="after")
    def _same_length(self) -> WideColumns:
        n = len(self.asset_id)
        if len(self.ts) != n or any(len(v) != n for v in self.values.values()):
            raise ValueError(f"asset_id, ts and every values column must have the same length ({n})")
        return self


class FeatureTable(Strict):
    """Feature rows as a table: column names once, then one array of values per row (pandas' ``split`` layout
    without the index)."""

    columns: list[Ident] = Field(min_length=1, max_length=10_000)
    data: list[list[Finite | None]] = Field(
        min_length=1, max_length=1_000_000, description="one array per row, values in the order of 'columns'"
    )

    @model_validator(mode="after")
    def _rectangular(self) -> FeatureTable:
        repeated = sorted(c for c, n in Counter(self.columns).items() if n > 1)
        if repeated:
            raise ValueError(f"column name(s) {', '.join(repeated[:5])} appear more than once")
        for i, row in enumerate(self.data):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} of data has {len(row)} values; columns names {len(self.columns)}")
        return self


class BatchPredictRequest(Strict):
    """Many rows at once: model features as ``features`` (column -> values) or as a ``table`` (columns and rows of
    values), or wide ``readings`` per asset in time order."""

    model_id: Name | None = None
    asset_class: Ident | None = None
    features: dict[Ident, list[Finite | None]] | None = Field(None, description="column -> values (columnar)")
    table: FeatureTable | None = None
    readings: WideColumns | None = None

    @model_validator(mode="after")
    def _one_input(self) -> BatchPredictRequest:
        if sum(x is not None for x in (self.features, self.table, self.readings)) != 1:
            raise ValueError("give exactly one of 'features', 'table' or 'readings'")
        if self.features is not None:
            if not self.features:
                raise ValueError("features holds no columns")
            first, n = next((k, len(v)) for k, v in self.features.items())
            for name, values in self.features.items():
                if len(values) != n:
                    raise ValueError(
                        f"features column {name!r} has {len(values)} values and {first!r} has {n}; "
                        "every column needs one value per row"
                    )
            if n == 0:
                raise ValueError("features holds no rows")
        return self


class BatchPrediction(BaseModel):
    model_id: str
    version: str
    n_rows: int
    probability: list[float | None]
    health: list[float | None]
    rul: list[float | None] | None
    rul_low: list[float | None] | None
    rul_high: list[float | None] | None
    risk_level: list[str] = Field(description="'low', 'medium', 'high', 'critical', or 'unknown' (no probability)")
    status: list[str] = Field(
        default_factory=list,
        description="per row: 'in_service', or 'insufficient data' when the row's window (its asset's last `window` "
        "rows up to it) holds readings of less than the minimum share of the channels expected of the asset "
        "(FOREWARN_MIN_CHANNEL_SHARE, default 0.75; expected: the channels its class sends in the store, the class "
        "being the body's asset_class or the store's class of the asset, else all the model's channels): null "
        "probability, health and RUL, risk 'unknown'. `features` rows count a channel whose window statistics "
        "(mean, std, min, max, slope) are all null as not read; a sequence model's feature rows are scored as given",
    )
    channels_missing: list[list[str]] = Field(
        default_factory=list,
        description="per row: the expected channels with no reading in the row's window (a warning when it is "
        "scored; empty when complete)",
    )


# -- alerts, cases, models -----------------------------------------------------------------------------------
class AcknowledgeRequest(Strict):
    by: Annotated[str, Field(max_length=200)] = ""
    note: Annotated[str, Field(max_length=5000)] | None = None


class CloseRequest(Strict):
    note: Annotated[str, Field(min_length=1, max_length=5000, pattern=r"\S")]
    by: Annotated[str, Field(max_length=200)] = ""


class EvaluateRequest(Strict):
    asset_ids: list[Ident] | None = Field(None, max_length=100_000)


class PromoteRequest(Strict):
    version: Name


class Case(BaseModel):
    case_id: int
    asset_id: str
    status: Literal["open", "acknowledged", "closed"]
    risk_level: str
    model_id: str
    opened_ts: datetime
    last_alert_ts: datetime
    n_alerts: int
    top_sensors: list[str]
    acknowledged_ts: datetime | None
    acknowledged_by: str | None
    closed_ts: datetime | None
    closed_by: str | None
    note: str | None


class AlertFields(BaseModel):
    """What every alert answer carries: the asset, the model, its score and decision, and the driving sensors."""

    asset_id: str
    model_id: str
    score: float
    probability: float | None
    rul: float | None
    risk_level: str
    explanation: dict[str, float]


class AlertOut(AlertFields):
    source: str | None = None  # "service" or "stream" (None: filed before alerts named their source)
    alert_id: int
    case_id: int
    ts: datetime


class StreamAlertOut(AlertFields):
    ts: datetime
    raised_at: datetime


class OpenedAlert(AlertFields):
    ts: str
    case_id: int
    source: str | None = None


# -- backtests (files written by ``forewarn backtest --models DIR``) ----------------------------------------------
class Open(BaseModel):
    """A file's object: the fields listed are checked, others pass through (newer writers may add some)."""

    model_config = ConfigDict(extra="allow")


class BacktestRows(Open):
    """Row-level scores over all folds."""

    f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    far: float | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    ece: float | None = None


class BacktestEvents(Open):
    """Event-level figures at the chosen threshold: failures caught, lead time, false cases and cost."""

    failures: int
    caught: int
    caught_share: float | None = None
    lead_time_hours_median: float | None = None
    false_cases_per_asset_year: float | None = None
    cost: float | None = None
    cost_run_to_failure: float | None = None
    cost_time_based: float | None = None


class SweepPoint(Open):
    threshold: float
    caught_share: float | None = None
    false_cases_per_asset_year: float | None = None
    cost: float | None = None


class ReliabilityBin(Open):
    bin_low: float
    bin_high: float
    predicted: float | None = None
    observed: float | None = None
    count: int


class BacktestFold(Open):
    fold: int
    label: str = ""
    rows: BacktestRows = Field(default_factory=BacktestRows)
    events: BacktestEvents | None = None


class Backtest(Open):
    """One backtest: its set-up, scores over all folds, the threshold sweep, reliability bins and the folds."""

    id: str
    created: datetime
    task: Literal["failure", "rul", "anomaly"]
    by: Literal["time", "asset", "site"]
    folds: int = Field(ge=0)
    horizon_hours: float | None = None
    min_lead_hours: float | None = None
    model: str = ""
    rows: BacktestRows
    events: BacktestEvents
    threshold: float | None = None
    sweep: list[SweepPoint] = Field(default_factory=list)
    reliability: list[ReliabilityBin] = Field(default_factory=list)
    per_fold: list[BacktestFold] = Field(default_factory=list)


class BacktestSummary(BaseModel):
    """A line of the backtest list; ``error`` says why a file could not be read (its other fields are null)."""

    id: str
    created: datetime | None = None
    task: str | None = None
    by: str | None = None
    folds: int | None = None
    model: str | None = None
    horizon_hours: float | None = None
    threshold: float | None = None
    failures: int | None = None
    caught: int | None = None
    caught_share: float | None = None
    false_cases_per_asset_year: float | None = None
    cost: float | None = None
    error: str | None = None


class Problem(BaseModel):
    """An error: ``detail`` is a message, or a list of field errors (``loc``, ``msg``, ``type``)."""

    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a setting or query is invalid"},
    401: {"model": Problem, "description": "missing or wrong bearer token"},
    403: {"model": Problem, "description": "writes are disabled (no token configured)"},
    404: {"model": Problem, "description": "unknown asset, case, model or backtest"},
    409: {"model": Problem, "description": "the action conflicts with the current state"},
    413: {"model": Problem, "description": "request body too large"},
    422: {"model": Problem, "description": "a field is invalid; detail names it"},
}
