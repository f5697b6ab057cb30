"""A plant's history as training rows: the assets asked for, their readings at one interval, and their labels.

* Assets: the store's assets narrowed by site, line, class or id (:func:`select_assets`).
* Interval: the spec's, else chosen from the data (:func:`choose_interval`): the readings' own median spacing,
  coarsened to a round span no finer than a 24th of the horizon (a 24 h horizon on 1-minute data trains on
  hourly rows; a 7-day horizon on 6-hourly ones). Readings are averaged into buckets of that width aligned on
  the Unix epoch, exactly as ``Store.readings(resample=...)`` does and as the service reads them.
* Labels: from the store's events (:mod:`forewarn.train.labels`), or from a stored label column (``label``).
* Features: the window statistics of :func:`forewarn.features.window.window_features` (the one kernel serving
  uses too), the last ``window`` rows of the asset at the interval; sequence models get
  :func:`~forewarn.features.window.sequence_frame` instead. With the spec's ``age`` (``auto``: when the events
  hold a renewal), one more column, ``age_h``: hours since the asset's last renewal at or before the row
  (:func:`forewarn.features.age.hours_since_renewal`, the function every serving path calls).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.base.executor import Executor, map_groups
from forewarn.base.timespan import timespan
from forewarn.exceptions import DataNotFoundError, SchemaError
from forewarn.features.age import AGE_FEATURE, hours_since_renewal
from forewarn.features.kernel import ClassMeans, absent_fill, class_means, fill_absent
from forewarn.features.window import sequence_frame, window_features
from forewarn.store import Store
from forewarn.store.pg_sql import is_postgres_url
from forewarn.store.window_queries import median_spacing_us
from forewarn.train.labels import life_table, renewals, targets
from forewarn.train.spec import TrainSpec, hours

#: round spans an interval is chosen from
ROUND_SPANS = ("1s", "10s", "30s", "1min", "5min", "10min", "15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D")


def select_assets(db: Store, spec: TrainSpec) -> pd.DataFrame:
    """The assets the spec selects (``asset_id, asset_class, site_id, line_id``), sorted; an empty choice is an error."""
    assets = db.assets()
    chosen = assets
    for column, wanted, option in (
        ("site_id", spec.sites, "--site"),
        ("line_id", spec.lines, "--line"),
        ("asset_class", spec.classes, "--class"),
        ("asset_id", spec.assets, "--assets"),
    ):
        if wanted:
            unknown = sorted(set(wanted) - set(assets[column].dropna().astype(str)))
            if unknown:
                raise DataNotFoundError(
                    f"{option} {', '.join(unknown)}: not in the store (it has "
                    f"{', '.join(sorted(assets[column].dropna().astype(str).unique())[:8])})"
                )
            chosen = chosen[chosen[column].astype(str).isin(wanted)]
    if chosen.empty:
        raise DataNotFoundError(
            "no asset matches the selection"
            if len(assets)
            else "the store holds no asset yet; ingest readings first (forewarn ingest FILE --store DB)"
        )
    return chosen.sort_values("asset_id").reset_index(drop=True)


def native_interval_hours(db: Store, asset_ids: list[str], *, sample: int = 8) -> float:
    """The median spacing of consecutive readings of a channel, over a few assets (hours)."""
    ids = asset_ids[:: max(1, len(asset_ids) // sample)][:sample]
    value = median_spacing_us(db, ids)  # in the dialect of the store's backend
    if value is None:
        raise DataNotFoundError(
            f"the selected assets ({', '.join(ids[:3])} ...) hold fewer than two readings of a "
            "channel; ingest their readings first"
        )
    return float(value) / 3.6e9


def choose_interval(native_hours: float, horizon_hours: float) -> str:
    """The round span to train at: the coarsest of :data:`ROUND_SPANS` at most ``max(native, horizon / 24)``,
    never finer than the data.

    >>> choose_interval(1 / 60, 24.0), choose_interval(10 / 60, 168.0), choose_interval(1.0, 24.0)
    ('1h', '6h', '1h')
    """
    target = max(native_hours, horizon_hours / 24.0)
    spans = [(hours(s, "interval"), s) for s in ROUND_SPANS]
    fitting = [s for h, s in spans if h <= target * (1 + 1e-9)]
    if not fitting:
        return ROUND_SPANS[0]
    chosen = fitting[-1]
    if hours(chosen, "interval") < native_hours * (1 - 1e-9):  # a span between two round ones: the next one up
        above = [s for h, s in spans if h >= native_hours * (1 - 1e-9)]
        chosen = above[0] if above else ROUND_SPANS[-1]
    return chosen


def own_channels(db: Store, asset_ids: list[str], channels: tuple[str, ...]) -> dict[str, list[str]]:
    """Of the wanted ``channels``, those each asset has (its class's own: a motor has no ``seal_leak``), in the
    order given; an asset with none of them maps to an empty list.

    >>> from forewarn.schema import Asset, Channel
    >>> with Store(":memory:") as db:
    ...     db.add_assets([Asset("P1", asset_class="pump", channels=(Channel("seal_leak"), Channel("vib_rms"))),
    ...                    Asset("M1", asset_class="motor", channels=(Channel("vib_rms"),))])
    ...     own_channels(db, ["M1", "P1"], ("seal_leak", "vib_rms"))
    {'M1': ['vib_rms'], 'P1': ['seal_leak', 'vib_rms']}
    """
    wanted = set(channels)
    found: dict[str, set[str]] = {a: set() for a in asset_ids}
    for asset_id, channel in db.channels()[["asset_id", "channel"]].itertuples(index=False):
        if str(asset_id) in found and str(channel) in wanted:
            found[str(asset_id)].add(str(channel))
    return {a: [c for c in channels if c in found[a]] for a in asset_ids}


def load_wide(db: Store, asset_ids: list[str], interval: str, channels: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every selected asset's readings averaged at ``interval``, wide (``asset_id, ts, <channel>...``), sorted.

    With ``channels`` named, each asset is asked for those it has (:func:`own_channels`): a channel that only some
    classes send (a pump's ``seal_leak``) is read where it exists and is missing (NaN), not refused and not zero,
    for the others; a channel no selected asset has is refused."""
    has = own_channels(db, asset_ids, channels) if channels else {}
    held = {c for names in has.values() for c in names}
    if channels and set(channels) - held:
        known = sorted(set(db.channels()["channel"].astype(str)))
        raise SchemaError(
            f"channel(s) {', '.join(sorted(set(channels) - held))} not in the selected assets' readings",
            column="channels",
            hint=f"the store's channels: {', '.join(known[:12])}" + (" ..." if len(known) > 12 else ""),
        )
    parts = []
    for asset_id in asset_ids:
        if channels and not has[asset_id]:
            continue  # none of the named channels: no row to read
        part = db.readings(asset_id, resample=interval, wide=True, channels=has.get(asset_id) or None)
        if len(part):
            parts.append(part)
    if not parts:
        raise DataNotFoundError(f"no readings for the {len(asset_ids)} selected asset(s)")
    frame = pd.concat(parts, ignore_index=True)
    frame["asset_id"] = frame["asset_id"].astype(str)
    return frame.sort_values(["asset_id", "ts"], ignore_index=True)


def informative_channels(frame: pd.DataFrame, wanted: tuple[str, ...] = ()) -> list[str]:
    """Channels with readings that vary (a constant channel carries nothing), in name order."""
    names = [c for c in frame.columns if c not in ("asset_id", "ts")]
    if wanted:
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise SchemaError(
                f"channel(s) {', '.join(missing)} not in the selected assets' readings",
                column="channels",
                hint=f"they have {', '.join(names[:12])}",
            )
        names = list(wanted)
    keep = [c for c in names if frame[c].notna().any() and np.nanstd(frame[c].to_numpy(dtype="float64")) > 1e-9]
    if not keep:
        raise SchemaError("no channel of the selected assets varies", column="channels")
    return sorted(keep)


#: words a yes/no label column holds (any case), read as 1 / 0
BINARY_WORDS = {"yes": 1.0, "y": 1.0, "true": 1.0, "no": 0.0, "n": 0.0, "false": 0.0}


def label_numbers(values: pd.Series, binary: bool) -> pd.Series:
    """A stored label column (text as ingested) as numbers; NaN where a value is not one.

    A ``binary`` label (failure, anomaly) may also say yes/no, y/n or true/false, as plant exports write flags.

    >>> label_numbers(pd.Series(["1", "0", "Yes", " no", "TRUE", "2.5", "maybe"]), binary=True).tolist()
    [1.0, 0.0, 1.0, 0.0, 1.0, 2.5, nan]
    >>> label_numbers(pd.Series(["yes", "12"]), binary=False).tolist()
    [nan, 12.0]
    """
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    if not binary:
        return numbers
    words = values.astype("string").str.strip().str.lower().map(BINARY_WORDS).astype("float64")
    return numbers.fillna(words)


def stored_label_targets(db: Store, frame: pd.DataFrame, spec: TrainSpec, interval: str) -> np.ndarray:
    """Targets from a stored label column, bucketed like the readings (a bucket's label: its largest value for
    failure labels, its mean for RUL, its last value for failure modes); rows without a label are NaN/None."""
    if spec.label not in db.label_names():
        raise DataNotFoundError(
            f"no label {spec.label!r} in the store (it has {', '.join(db.label_names()) or 'none'});"
            " ingest it with forewarn ingest FILE --label-columns NAME"
        )
    labels = db.labels(list(frame["asset_id"].unique()), name=spec.label)
    width = timespan(interval)
    epoch = pd.Timestamp(0, tz="UTC")
    labels = labels.assign(ts=epoch + ((labels["ts"] - epoch) // width) * width)
    keys = ["asset_id", "ts"]
    if spec.task == "failure-mode":
        bucketed = labels.groupby(keys, sort=False)["value"].last()
        return frame.set_index(keys).index.map(bucketed).to_numpy(dtype=object)
    values = label_numbers(labels["value"], binary=spec.task != "rul")
    if values.isna().any():
        bad = labels.loc[values.isna(), "value"].iloc[0]
        raise SchemaError(
            f"label {spec.label!r} holds {bad!r}, not a number",
            column=spec.label,
            hint="a failure label is 0/1 (or yes/no, true/false); a RUL label is a number of hours",
        )
    bucketed = labels.assign(value=values).groupby(keys)["value"].agg("max" if spec.task != "rul" else "mean")
    frame_ts = frame["ts"].astype(labels["ts"].dtype)
    index = pd.MultiIndex.from_arrays([frame["asset_id"], frame_ts])
    y = bucketed.reindex(index).to_numpy(dtype="float64")
    if spec.task in ("failure", "anomaly"):
        y = np.where(np.isnan(y), np.nan, (y > 0).astype("float64"))
    return y


@dataclass
class Dataset:
    """Rows of the selected assets at one interval, with labels and the facts a model card records."""

    frame: pd.DataFrame
    channels: list[str]
    interval: str
    assets: pd.DataFrame
    events: pd.DataFrame
    y: np.ndarray
    down: np.ndarray
    #: the selected assets' renewals (``asset_id, ts``): what the age since renewal is counted from
    renewed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["asset_id", "ts"]))

    def uses_age(self, spec: TrainSpec) -> bool:
        """Whether the features include the age since renewal: ``age="on"`` (an error when no renewal is
        recorded), ``"off"``, or ``"auto"``: when the selected assets' events hold at least one renewal."""
        if spec.age == "off":
            return False
        if spec.age == "on" and self.renewed.empty:
            raise DataNotFoundError(
                "--age on: the selected assets' events hold no renewal (a maintenance event that replaces, "
                "overhauls, repairs or installs); ingest them with forewarn ingest FILE --kind events, or use --age off"
            )
        return not self.renewed.empty

    def age_features(self) -> pd.DataFrame:
        """``age_h`` of every row: hours since its asset's last renewal at or before it (NaN before the first)."""
        age = hours_since_renewal(self.frame["asset_id"], self.frame["ts"], self.renewed)
        return pd.DataFrame({AGE_FEATURE: age}, index=self.frame.index)

    @property
    def groups(self) -> np.ndarray:
        return self.frame["asset_id"].to_numpy()

    @property
    def asset_class(self) -> np.ndarray:
        classes = self.assets.set_index("asset_id")["asset_class"].astype(str)
        return self.frame["asset_id"].map(classes).fillna("generic").to_numpy(dtype=str)

    @property
    def site(self) -> np.ndarray:
        sites = self.assets.set_index("asset_id")["site_id"].fillna("").astype(str)
        return self.frame["asset_id"].map(sites).fillna("").to_numpy(dtype=str)

    @property
    def labelled(self) -> np.ndarray:
        if self.y.dtype == object:
            return np.asarray([v is not None and v == v for v in self.y])
        return ~np.isnan(self.y)

    def window_features(self, spec: TrainSpec, executor: Executor | None = None) -> pd.DataFrame:
        """The window statistics of every row (one kernel, the one serving uses); ``executor`` computes each
        asset's rows as one unit (:func:`forewarn.base.executor.map_groups`: the same figures, in row order)."""
        kernel = partial(
            window_features,
            group="asset_id",
            order="ts",
            columns=self.channels,
            window=spec.window_rows(self.interval),
            stats=spec.stats,
        )
        return kernel(self.frame) if executor is None else map_groups(executor, kernel, self.frame, "asset_id")

    @property
    def raw_class(self) -> np.ndarray:
        """Each row's asset class as the assets table holds it (None where an asset has none; :attr:`asset_class`
        names those ``generic``)."""
        classes = self.assets.set_index("asset_id")["asset_class"]
        known = {str(a): c for a, c in classes.items() if isinstance(c, str) and c}
        return np.asarray([known.get(str(a)) for a in self.frame["asset_id"]], dtype=object)

    def class_means(self, rows: np.ndarray) -> ClassMeans:
        """Each asset class's mean of each channel over ``rows`` (a boolean mask: the training assets' rows), and
        the overall means (:func:`~forewarn.features.kernel.class_means`): what a sequence model's absent channels
        read, in training and in every bundle filed from it."""
        values = self.frame.loc[rows, self.channels].to_numpy(dtype="float64", na_value=np.nan)
        return class_means(values, self.raw_class[rows])

    def sequence_features(self, spec: TrainSpec, absent: ClassMeans | None = None) -> pd.DataFrame:
        """The last ``window`` rows of each channel, for sequence models (gaps filled forward within an asset; a
        channel with no reading yet reads its asset class's training mean, ``absent`` (:meth:`class_means`), the
        overall mean for an asset without a class; 0 without ``absent``, as before class means)."""
        filled = self.frame.copy()
        carried = filled.groupby("asset_id")[self.channels].ffill().to_numpy(dtype="float64", na_value=np.nan)
        fill = None if absent is None else absent_fill(self.raw_class, *absent)
        filled[self.channels] = fill_absent(carried, 0.0 if fill is None else fill)
        return sequence_frame(
            filled, group="asset_id", order="ts", columns=self.channels, window=spec.window_rows(self.interval)
        )

    def physics_features(self) -> pd.DataFrame:
        """The twin-physics features of every row (residuals against the physics, estimated wear)."""
        from forewarn.features.physics import physics_features

        classes = self.assets.set_index("asset_id")["asset_class"].astype(str).to_dict()
        return physics_features(self.frame, asset_class=classes, group="asset_id", order="ts")

    def features(
        self,
        spec: TrainSpec,
        *,
        sequence: bool = False,
        executor: Executor | None = None,
        absent: ClassMeans | None = None,
    ) -> pd.DataFrame:
        """The feature set the spec asks for: window statistics (``ml``), physics, or both (``hybrid``); a sequence
        model's input with ``sequence`` (its absent channels: :meth:`sequence_features`)."""
        if sequence:
            return self.sequence_features(spec, absent)
        if spec.features == "ml":
            out = self.window_features(spec, executor)
        elif spec.features == "physics":
            out = self.physics_features()
        else:
            out = pd.concat([self.window_features(spec, executor), self.physics_features()], axis=1)
        if spec.baseline_hours is not None:
            out = pd.concat([out, self.baseline_features(spec)], axis=1)
        return pd.concat([out, self.age_features()], axis=1) if self.uses_age(spec) else out

    def baseline_features(self, spec: TrainSpec) -> pd.DataFrame:
        """Every row against its asset life's own baseline (:mod:`forewarn.features.baseline`): z per channel,
        PCA T2 and Q, trailing-window means."""
        from forewarn.features.baseline import baseline_features

        assert spec.baseline_hours is not None
        return baseline_features(
            self.frame,
            columns=self.channels,
            window=spec.window_rows(self.interval),
            baseline_hours=spec.baseline_hours,
            renewals=self.renewed,
        )


@contextmanager
def opened(store: str | os.PathLike[str] | Store) -> Iterator[Store]:
    """A store given as an open :class:`Store` (used as is), a path (opened read-only; it must exist: a typo must
    not create an empty store) or a ``postgresql://`` URL (opened read-only: a role with ``SELECT`` suffices)."""
    if isinstance(store, Store):
        yield store
        return
    if is_postgres_url(store):
        with Store(str(store), read_only=True) as server:
            yield server
        return
    if not Path(store).exists():
        raise DataNotFoundError(f"store {str(store)!r} does not exist")
    with Store(store, read_only=True) as db:
        yield db


def load_dataset(db: Store, spec: TrainSpec) -> Dataset:
    """Select, resample, label: everything a training or backtest run reads from the store."""
    assets = select_assets(db, spec)
    ids = assets["asset_id"].astype(str).tolist()
    interval = spec.interval or choose_interval(native_interval_hours(db, ids), spec.horizon_hours)
    frame = load_wide(db, ids, interval, spec.channels)
    channels = informative_channels(frame, spec.channels)
    frame = frame[["asset_id", "ts", *channels]]
    events = db.events()
    events = events[events["asset_id"].isin(ids)].reset_index(drop=True)
    life = life_table(frame, events, actions=spec.renewing_actions)
    renewed = (
        renewals(events, spec.renewing_actions).reset_index(drop=True)
        if len(events)
        else pd.DataFrame(columns=["asset_id", "ts"])
    )
    if spec.label:
        y = stored_label_targets(db, frame, spec, interval)
    else:
        y = targets(life, task=spec.task, horizon_hours=spec.horizon_hours, max_rul_hours=spec.max_rul_hours)
    return Dataset(
        frame=frame,
        channels=channels,
        interval=interval,
        assets=assets,
        events=events,
        y=y,
        down=life["down"].to_numpy(dtype=bool),
        renewed=renewed,
    )
