"""A sequence model's absent channels (none of their readings yet, or a channel an asset never reports) read the
asset class's training mean: the same in the batch frame, the last-row fast path and the stream's micro-batches;
a serving spec written before class means reads them as 0, bit for bit as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.bundles.bundle import ServingSpec
from forewarn.exceptions import StateError
from forewarn.features.kernel import absent_fill, class_means, sequence_steps
from forewarn.features.window import sequence_frame
from forewarn.stream.features import MicroBatchFeatures

CHANNELS = ("temp", "flow", "leak")
WINDOW = 4
#: pumps report all three channels, fans no leak (0: not applicable); "generic" was never seen in training
MEANS = {"pump": [50.0, 30.0, 2.0], "fan": [40.0, 90.0, 0.0]}
OVERALL = [45.0, 60.0, 2.0]
CLASSES = {"P1": "pump", "F1": "fan", "G1": "generic", "N1": None}


def _frame(seed: int = 0) -> pd.DataFrame:
    """Readings of four assets, with gaps, a channel starting late and channels never reported."""
    rng = np.random.default_rng(seed)
    parts = []
    for asset in CLASSES:
        n = 9
        values = rng.normal(10, 3, (n, len(CHANNELS)))
        values[rng.random(values.shape) < 0.2] = np.nan
        if asset == "P1":
            values[:5, 1] = np.nan  # flow starts late
        if asset in ("F1", "N1"):
            values[:, 2] = np.nan  # no leak sensor
        if asset == "G1":
            values[:, 1] = np.nan  # a flow its (unknown) class never sent
        parts.append(pd.DataFrame(values, columns=list(CHANNELS)).assign(asset_id=asset, ts=np.arange(n)))
    return pd.concat(parts, ignore_index=True)


def _spec(**extra: object) -> ServingSpec:
    return ServingSpec(channels=CHANNELS, window=WINDOW, history_rows=WINDOW, sequence=True, **extra)  # type: ignore[arg-type]


def test_class_means_hold_the_overall_mean_where_a_class_never_reported() -> None:
    values = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, np.nan], [9.0, 8.0]])
    by_class, overall = class_means(values, ["fan", "pump", "fan", float("nan")])
    assert overall == [pytest.approx(13 / 3), 6.0]
    assert by_class == {"fan": [1.0, 0.0], "pump": [3.0, 4.0]}  # never reported: 0; no class: overall only
    fill = absent_fill(["pump", "motor", "", None], by_class, overall)
    assert fill is not None and fill.tolist() == [[3.0, 4.0], [13 / 3, 6.0], [13 / 3, 6.0], [13 / 3, 6.0]]
    assert class_means(np.full((2, 1), np.nan), ["a", "b"]) == ({"a": [0.0], "b": [0.0]}, [0.0])


def test_batch_last_row_and_stream_read_absent_channels_alike() -> None:
    spec = _spec(class_means=MEANS, channel_means=tuple(OVERALL))
    frame = _frame()
    batch = spec.window_frame(frame, CLASSES)
    names = spec.window_feature_names
    stream = MicroBatchFeatures(
        list(CHANNELS), window=WINDOW, sequence=True, absent=lambda a: spec.absent([CLASSES[x] for x in a])
    )
    ordered = frame.sort_values(["ts", "asset_id"], kind="stable")
    streamed = stream.update(ordered["asset_id"].to_numpy(), ordered[list(CHANNELS)].to_numpy())
    np.testing.assert_array_equal(streamed, batch.loc[ordered.index, names].to_numpy())
    for asset, rows in frame.groupby("asset_id"):
        values = rows[list(CHANNELS)].to_numpy()
        for end in (1, 3, len(rows)):  # the asset's first rows (padded) and later ones
            want = batch.loc[rows.index[end - 1], names].to_numpy(dtype="float64")
            np.testing.assert_array_equal(spec.last_row(values[:end], CLASSES[str(asset)]), want)
    fan = batch.loc[frame["asset_id"] == "F1", "leak__t3"]
    assert (fan == 0.0).all()  # never reported by fans: 0, as before class means
    generic = batch.loc[frame["asset_id"] == "G1", "flow__t3"]
    assert (generic == OVERALL[1]).all()  # a class never seen in training: the overall mean
    late = batch.loc[(frame["asset_id"] == "P1") & (frame["ts"] == 0), "flow__t3"]
    assert late.tolist() == [MEANS["pump"][1]]  # before the pump's first flow reading: the pumps' mean


def test_the_stream_peek_reads_the_class_means() -> None:
    spec = _spec(class_means=MEANS, channel_means=tuple(OVERALL))
    stream = MicroBatchFeatures(
        list(CHANNELS), window=WINDOW, sequence=True, absent=lambda a: spec.absent([CLASSES[x] for x in a])
    )
    stream.update(np.array(["F1"]), np.array([[1.0, np.nan, np.nan]]))
    peeked = stream.peek(np.array(["F1", "P1"]), np.array([[2.0, np.nan, np.nan], [3.0, 4.0, np.nan]]))
    assert peeked[0].tolist() == [1.0, 1.0, 1.0, 2.0, 90.0, 90.0, 90.0, 90.0, 0.0, 0.0, 0.0, 0.0]
    assert peeked[1].tolist() == [3.0] * 4 + [4.0] * 4 + [2.0] * 4


def test_a_spec_without_class_means_reads_absent_channels_as_zero_as_before() -> None:
    data = _spec().to_json()
    del data["class_means"], data["channel_means"]  # serving.json as written before class means
    spec = ServingSpec.from_json(data)
    frame = _frame(1)
    old = frame.copy()
    old[list(CHANNELS)] = old.groupby("asset_id")[list(CHANNELS)].ffill().fillna(0.0)  # the rule until now
    want = sequence_frame(old, group="asset_id", order="ts", columns=list(CHANNELS), window=WINDOW)
    got = spec.window_frame(frame, CLASSES)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    for asset, rows in frame.groupby("asset_id"):
        values = rows[list(CHANNELS)].to_numpy()
        np.testing.assert_array_equal(spec.last_row(values, CLASSES[str(asset)]), want.loc[rows.index[-1]].to_numpy())
    stream = MicroBatchFeatures(list(CHANNELS), window=WINDOW, sequence=True)
    ordered = frame.sort_values(["ts", "asset_id"], kind="stable")
    streamed = stream.update(ordered["asset_id"].to_numpy(), ordered[list(CHANNELS)].to_numpy())
    np.testing.assert_array_equal(streamed, want.loc[ordered.index].to_numpy())
    block = np.array([[[np.nan, 1.0], [np.nan, 2.0]]])
    assert sequence_steps(block).tolist() == [[0.0, 0.0, 1.0, 2.0]]


def test_a_spec_with_means_of_the_wrong_width_is_refused() -> None:
    data = _spec(class_means=MEANS, channel_means=tuple(OVERALL)).to_json()
    with pytest.raises(StateError, match="one mean per channel"):
        ServingSpec.from_json({**data, "class_means": {"pump": [1.0]}})
    with pytest.raises(StateError, match="channel_means"):
        ServingSpec.from_json({**data, "channel_means": []})
