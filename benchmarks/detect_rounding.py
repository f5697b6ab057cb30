"""Where a recording grid dominates a channel (issue 14, item 2: rounded plant exports).

Part ``grid``: for each channel of each source, read on the training part the ensemble fits on, the recording
step ``q`` (:func:`forewarn.models.anomaly.robust.resolution`), the channel's robust spread (the ensemble's
median/MAD scale), the ratio ``q / spread`` and the number of distinct training values. Sources:

* ``skab``: SKAB's allowed parts: the first 400 rows of each labelled file and the anomaly-free file's first 400;
* ``twinD``: the failing twin fleet (``--seed``, validation 11; 2 sites x 16 assets x 180 days, hourly,
  degradation 3x) with every value rounded to D decimals (``twin`` unrounded), the first 15 % of each asset;
* ``corpus``: the labelled corpus (:func:`forewarn.twin.anomalies.make_corpus`) of the validation seeds
  (``--corpus-seeds``, 10-19), the first 15 % of each series.

Part ``skabval``: a SKAB-like validation with anomalies, from SKAB's anomaly-free file only (an allowed part): cut
into ``--skab-segments`` segments, each fitted on its first 400 rows (SKAB's protocol) and given one injected
anomaly (:func:`forewarn.twin.anomalies.inject`: a level shift, drift, variance change or new frequency on one to
three channels, 150-400 rows, after row 450), ``--skab-draws`` draws per segment; F1, FAR and MAR of the rows inside
alarm episodes after row 400, pooled as SKAB pools them, and the false rows after each anomaly.

Part ``episodes``: the alarm episodes (``alarm`` 1) of that twin fleet through
:func:`forewarn.detect.detect_frame` (``forewarn detect``'s path) unrounded and rounded to each of ``--decimals``,
with the detector's parameters ``--params`` (JSON).

Part ``healthy``: the share of rows starting an alarm episode on a healthy twin fleet (``--healthy-seed``,
validation 3; 20 assets x 30 days at 10 min, as ``benchmarks/detect.py --parts healthy`` draws it), unrounded and
rounded to each of ``--decimals``.

Run::

    .venv/bin/python benchmarks/detect_rounding.py --parts grid
    .venv/bin/python benchmarks/detect_rounding.py --parts episodes --decimals 4,3,2 --params '{"rounding": true}'
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator, Sequence

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TRAIN_FRACTION = 0.15


def fleet(seed: int, sites: int, assets: int, days: int) -> pd.DataFrame:
    from forewarn.twin import FleetConfig, simulate_fleet

    config = FleetConfig(sites=sites, assets=assets, days=days, seed=seed, interval="1h", degradation_scale=3.0)
    return simulate_fleet(config).readings


def rounded(readings: pd.DataFrame, decimals: int | None) -> pd.DataFrame:
    """The readings with every channel rounded to ``decimals`` (``None``: as they are)."""
    if decimals is None:
        return readings
    out = readings.copy()
    channels = [c for c in out.columns if c not in ("asset_id", "ts")]
    out[channels] = out[channels].round(decimals)
    return out


def training_parts(args: argparse.Namespace) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """``(source, series name, training part)`` of every series of every source (module text)."""
    sources = args.sources.split(",")
    if "skab" in sources:
        from forewarn.datasets.skab import N_TRAIN, load_skab

        data = load_skab(args.data_dir)
        for file in data.files:
            yield "skab", file.name, file.frame.loc[:, list(data.SENSORS)].iloc[:N_TRAIN]
    twins = [s for s in sources if s.startswith("twin")]
    if twins:
        readings = fleet(args.seed, args.sites, args.assets, args.days)
        for source in twins:
            decimals = int(source[4:]) if source[4:] else None
            frame = rounded(readings, decimals)
            for asset, rows in frame.groupby("asset_id", sort=True):
                values = rows.drop(columns=["asset_id", "ts"]).dropna(axis=1, how="all")
                yield source, str(asset), values.iloc[: max(10, int(TRAIN_FRACTION * len(values)))]
    if "corpus" in sources:
        from forewarn.twin.anomalies import make_corpus

        for seed in (int(s) for s in args.corpus_seeds.split(",")):
            for series in make_corpus(seed):
                values = series.frame.drop(columns=["timestamp"]).select_dtypes("number")
                yield "corpus", f"{seed}/{series.name}", values.iloc[: max(10, int(TRAIN_FRACTION * len(values)))]


def grid_part(args: argparse.Namespace) -> pd.DataFrame:
    """One row per channel: step, spread, their ratio, distinct training values (module text)."""
    from forewarn.models.anomaly.robust import resolution, robust_location_scale

    rows = []
    for source, name, frame in training_parts(args):
        values = frame.to_numpy(dtype="float64", na_value=np.nan)
        step = resolution(values)
        _, spread = robust_location_scale(values)
        for j, channel in enumerate(frame.columns):
            column = values[:, j][np.isfinite(values[:, j])]
            distinct, counts = np.unique(column, return_counts=True)
            moves = np.diff(column) != 0
            rows.append(
                {
                    "source": source,
                    "series": name,
                    "channel": str(channel),
                    "step": step[j],
                    "spread": spread[j],
                    "ratio": step[j] / spread[j],
                    "distinct": len(distinct),
                    "mode_share": counts.max() / counts.sum() if len(counts) else np.nan,
                    "change_share": moves.mean() if len(moves) else np.nan,
                }
            )
    table = pd.DataFrame(rows)
    for source, part in table.groupby("source", sort=False):
        on_grid = part[part["step"] > 0]
        quantiles = on_grid["ratio"].quantile([0.5, 0.9, 0.99, 1.0]).round(3).tolist() if len(on_grid) else []
        print(
            f"{source:>7}: {len(part)} channels, {len(on_grid)} on a grid; ratio q/spread median/90/99/max "
            f"{quantiles}; ratio >= 0.25/0.5/1/2: {[int((part['ratio'] >= c).sum()) for c in (0.25, 0.5, 1, 2)]}; "
            f"distinct <= 5/10/20: {[int((part['distinct'] <= c).sum()) for c in (5, 10, 20)]}",
            flush=True,
        )
    return table


#: kind -> magnitude range (channel scale units, :func:`forewarn.twin.anomalies.channel_scale`) for ``skabval``
SKABVAL_KINDS = {"level_shift": (3.0, 6.0), "drift": (4.0, 8.0), "variance": (2.0, 4.0), "frequency": (2.0, 4.0)}


def skabval_part(args: argparse.Namespace) -> dict[str, float]:
    """SKAB's protocol on anomalies injected into its anomaly-free file (module text)."""
    from forewarn.datasets.skab import N_TRAIN, load_skab
    from forewarn.decide.alarms import AlarmRule, find_alarms
    from forewarn.detect import detect_frame
    from forewarn.evaluate.anomaly import pooled_outlier_metrics
    from forewarn.twin.anomalies import inject

    free = load_skab(args.data_dir).anomaly_free
    params = json.loads(args.params)
    kinds = list(SKABVAL_KINDS)
    pairs, after = [], 0
    length = len(free) // args.skab_segments
    for segment in range(args.skab_segments):
        part = free.iloc[segment * length : (segment + 1) * length].reset_index()
        part = part.rename(columns={part.columns[0]: "timestamp"})
        for draw in range(args.skab_draws):
            rng = np.random.default_rng([segment, draw])
            kind = kinds[(segment + draw) % len(kinds)]
            start = int(rng.integers(450, 600))
            end = min(len(part) - 50, start + int(rng.integers(150, 400))) - 1
            channels = list(rng.choice(list(free.columns), size=int(rng.integers(1, 4)), replace=False))
            size = float(rng.uniform(*SKABVAL_KINDS[kind]))
            frame = inject(part, kind, start, end, channels, size, seed=int(rng.integers(2**31)))
            scores = (
                detect_frame(
                    frame, timestamp_column="timestamp", train_fraction=(N_TRAIN + 0.5) / len(frame), params=params
                )
                .scores["anomaly_score"]
                .to_numpy(dtype="float64")
            )
            _, episodes = find_alarms(scores, AlarmRule(), ts=frame["timestamp"])
            inside = np.zeros(len(frame), dtype=int)
            for episode in episodes:
                inside[episode.start : episode.end + 1] = 1
            truth = np.zeros(len(frame), dtype=int)
            truth[start : end + 1] = 1
            pairs.append((truth[N_TRAIN:], inside[N_TRAIN:]))
            after += int(inside[end + 1 :].sum())
    metrics = pooled_outlier_metrics(pairs).as_dict()
    out = {key: float(metrics[key]) for key in ("f1", "far", "mar")}
    out["false_rows_after"] = after
    print(f"skabval ({len(pairs)} files): {out} params {params}", flush=True)
    return out


def episodes_part(args: argparse.Namespace) -> list[dict[str, object]]:
    """Alarm episodes of the twin fleet unrounded and rounded (module text)."""
    import torch

    torch.set_num_threads(1)
    from forewarn.detect import detect_frame

    readings = fleet(args.seed, args.sites, args.assets, args.days)
    params = json.loads(args.params)
    out = []
    for decimals in [None] + [int(d) for d in args.decimals.split(",") if d]:
        start = time.perf_counter()
        result = detect_frame(
            rounded(readings, decimals), timestamp_column="ts", asset_column="asset_id", params=params
        )
        count = int(result.scores["alarm"].sum())
        out.append({"decimals": decimals, "episodes": count, "params": params})
        print(
            f"decimals {decimals}: {count} episodes, params {params} [{time.perf_counter() - start:.1f} s]", flush=True
        )
    return out


def healthy_part(args: argparse.Namespace) -> list[dict[str, object]]:
    """Rows starting an episode on a healthy twin fleet, unrounded and rounded (module text)."""
    from forewarn.detect import detect_frame
    from forewarn.twin.anomalies import twin_series

    machines = twin_series(args.healthy_seed, assets=20, days=30, max_channels=32)
    params = json.loads(args.params)
    out = []
    for decimals in [None] + [int(d) for d in args.decimals.split(",") if d]:
        rows = starts = 0
        for _, frame in machines:
            written = frame if decimals is None else frame.round({c: decimals for c in frame.columns[1:]})
            result = detect_frame(written, timestamp_column="timestamp", params=params)
            rows, starts = rows + len(frame), starts + int(result.scores["alarm"].sum())
        out.append({"decimals": decimals, "share_pct": 100.0 * starts / rows, "starts": starts})
        print(
            f"healthy, decimals {decimals}: {100.0 * starts / rows:.3f} % ({starts} starts in {rows} rows)", flush=True
        )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="grid", help="grid, skabval, episodes, healthy")
    parser.add_argument("--sources", default="skab,twin,twin4,twin3,twin2,corpus")
    parser.add_argument("--seed", type=int, default=11, help="the twin fleet's seed (11, 12: validation)")
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--assets", type=int, default=16)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--corpus-seeds", default=",".join(str(s) for s in range(10, 20)))
    parser.add_argument("--decimals", default="4,2")
    parser.add_argument("--healthy-seed", type=int, default=3)
    parser.add_argument("--skab-segments", type=int, default=8)
    parser.add_argument("--skab-draws", type=int, default=3)
    parser.add_argument("--params", default="{}", help="the detector's parameters, JSON")
    parser.add_argument("--data-dir", default=os.environ.get("FOREWARN_DATA_DIR"), help="holds skab/")
    parser.add_argument("--csv", help="write the grid table here")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "grid" in parts:
        table = grid_part(args)
        if args.csv:
            table.to_csv(args.csv, index=False)
    if "skabval" in parts:
        skabval_part(args)
    if "episodes" in parts:
        episodes_part(args)
    if "healthy" in parts:
        healthy_part(args)


if __name__ == "__main__":
    main()
