"""``forewarn detect --store DB --cases`` (issue 14 item 4): detect's alarm episodes filed into the store's case book
through the stream's own filing (the same alerts, the same case rule), idempotent across reruns; ``--models DIR``
scores a grown store with the kept fits, so the earlier rows keep their scores; nightly runs file the cases that one
run over the whole history files; the stream's own book, fed the same rows with the same fits, files the same cases."""

from __future__ import annotations

import contextlib
import io
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.cli.main import run
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.detect import detect_store
from forewarn.detect.cases import SOURCE, policy_name
from forewarn.detect.saved import SavedFits
from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

ROWS = 480  # hourly: 20 days per pump
GAP = "2d"  # the case rule's gap, short enough for a few cases per pump in 20 days
NIGHTS = (240, 336, 408, ROWS)  # hours each night's export reaches (cumulative)
T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _fleet(assets: int = 4, seed: int = 7) -> pd.DataFrame:
    """Hourly pumps: noise, P-1 with two temperature bursts, P-2 a lasting vibration rise; P-3 misses 3 % of its
    readings."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(assets):
        temp = 50 + i + rng.normal(0, 1, ROWS)
        vib = 2 + rng.normal(0, 0.1, ROWS)
        if i == 1:
            temp[250:290] += 9
            temp[380:392] += 9
        if i == 2:
            vib[300:] += 1.2
        frame = pd.DataFrame({"asset_id": f"P-{i}", "ts": T0 + pd.to_timedelta(np.arange(ROWS), "h")})
        frame["temp"], frame["vib"] = temp, vib
        if i == 3:
            frame.loc[rng.random(ROWS) < 0.03, "temp"] = np.nan
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _cli(argv: list[str]) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        try:
            run(argv)
        except SystemExit as exit_:
            assert not exit_.code, stdout.getvalue()
    return stdout.getvalue()


def _store(path: Path, fleet: pd.DataFrame, hours: int | None = None) -> Path:
    """Ingest the fleet's rows up to ``hours`` (all: None) into the store at ``path`` (made on first use)."""
    with Store(path) as db:
        if not db.assets().shape[0]:
            db.add_assets([Asset(str(a), "pump") for a in sorted(fleet["asset_id"].unique())])
        rows = fleet if hours is None else fleet[fleet["ts"] < T0 + pd.Timedelta(hours=hours)]
        db.ingest_readings(rows)
    return path


def _cases(book_path: str | Path) -> list[tuple]:
    book = CaseBook(str(book_path), close_quiet=None)
    try:
        found = book.cases(limit=10_000)
    finally:
        book.close()
    return sorted(
        (c["asset_id"], c["opened_ts"], c["status"], c["closed_ts"], c["n_alerts"], c["kind"], c["model_id"])
        for c in found
    )


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return _fleet()


@pytest.fixture(scope="module")
def nightly(fleet: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Four nights: ingest the night's export, then ``detect --store --cases --save-models DIR`` (the first night
    fits; the later ones score with the kept fits, ``--models DIR``, and keep them again); the outputs of each
    night."""
    root = tmp_path_factory.mktemp("nightly")
    store, fits = root / "plant.duckdb", root / "fits"
    done, outputs, scores = 0, [], []
    for night, hours in enumerate(NIGHTS):
        part = fleet[(fleet["ts"] >= T0 + pd.Timedelta(hours=done)) & (fleet["ts"] < T0 + pd.Timedelta(hours=hours))]
        _store(store, part)
        done = hours
        out = root / f"scores-{night}.csv"
        argv = ["detect", "--store", str(store), "--out", str(out), "--cases", "--close-quiet", GAP]
        argv += ["--save-models", str(fits)] + ([] if night == 0 else ["--models", str(fits)])  # kept, and kept again
        outputs.append(_cli(argv))
        scores.append(pd.read_csv(out))
    return {"root": root, "store": store, "fits": fits, "outputs": outputs, "scores": scores}


def test_each_night_files_only_its_new_episodes_and_a_rerun_nothing(nightly: dict) -> None:
    outputs = nightly["outputs"]
    assert "case book " in outputs[0] and "0 there already" in outputs[0]
    for text in outputs[1:]:
        assert "4 asset(s) scored with their fits kept in" in text and "no asset fitted now" in text
    again = _cli(
        ["detect", "--store", str(nightly["store"]), "--out", str(nightly["root"] / "again.csv"), "--cases"]
        + ["--close-quiet", GAP, "--models", str(nightly["fits"])]
    )
    assert " 0 new alert(s) filed" in again and "0 case(s) opened" in again, again
    book = CaseBook(casebook_path_for(nightly["store"]), close_quiet=None)
    alerts = book.alerts(limit=10_000)
    state = book.policy_state(policy_name())
    book.close()
    final = nightly["scores"][-1]
    assert len(alerts) == int(final["alarm"].sum()) > 3 and {a["source"] for a in alerts} == {SOURCE}
    filed = sorted((a["asset_id"], a["ts"]) for a in alerts)
    alarms = final[final["alarm"] == 1]
    assert filed == sorted(zip(alarms["asset_id"], pd.to_datetime(alarms["timestamp"], utc=True), strict=True))
    assert sorted(state["asset_id"].tolist()) == ["P-0", "P-1", "P-2", "P-3"]  # every scored asset told its rows
    assert (state["last_ns"] == (T0 + pd.Timedelta(hours=ROWS - 1)).value).all()


def test_kept_fits_keep_the_earlier_scores(nightly: dict) -> None:
    first, last = nightly["scores"][0], nightly["scores"][-1]
    joined = first.merge(last, on=["asset_id", "timestamp"], how="left", suffixes=("_then", "_now"))
    assert len(joined) == len(first) and joined["anomaly_score_now"].notna().all()
    assert (joined["anomaly_score_then"] - joined["anomaly_score_now"]).abs().max() == 0.0  # the CSV's digits
    # and to 1e-9 through the library, the same kept fits on the whole store
    fits = SavedFits(nightly["fits"])
    whole = detect_store(nightly["store"], kept=fits)
    with Store(nightly["root"] / "early.duckdb") as early:
        early.add_assets([Asset(f"P-{i}", "pump") for i in range(4)])
        with Store(nightly["store"], read_only=True) as db:
            rows = db.sql("SELECT asset_id, ts, channel, value FROM readings WHERE ts < ?", [T0 + pd.Timedelta("10D")])
        early.ingest_readings(rows)
        part = detect_store(early, kept=fits)
    both = part.scores.merge(whole.scores, on=["asset_id", "timestamp"], suffixes=("_then", "_now"))
    assert len(both) == len(part.scores) == 4 * NIGHTS[0]
    assert np.abs(both["anomaly_score_then"] - both["anomaly_score_now"]).max() < 1e-9
    assert (both["alarm_then"] == both["alarm_now"]).all()


def test_nightly_cases_equal_one_run_over_the_whole_history(nightly: dict, fleet: pd.DataFrame) -> None:
    root = nightly["root"]
    store = _store(root / "whole.duckdb", fleet)
    text = _cli(
        ["detect", "--store", str(store), "--out", str(root / "whole.csv"), "--cases", "--close-quiet", GAP]
        + ["--models", str(nightly["fits"])]
    )
    assert "0 there already" in text
    nights, once = _cases(casebook_path_for(nightly["store"])), _cases(casebook_path_for(store))
    assert nights == once and len(once) >= 4
    assert {c[2] for c in once} == {"open", "closed"}  # the rule closed some, some still alarm or are recent


def test_the_streams_own_book_files_the_same_cases(nightly: dict, fleet: pd.DataFrame, tmp_path: Path) -> None:
    """The stream with the same fits (the printed entry), its own case book and the same gap, fed the same rows in
    12-hour micro-batches (shorter than the gap), files the cases ``detect --cases`` filed."""
    text = nightly["outputs"][0]
    entry = tomllib.loads(text[text.index("[[models]]") : text.index("case book ")])["models"][0]
    entry["context"] = 1000  # the whole history: the stream sees what detect saw
    cfg = parse_config(
        {
            "pipeline": {"idle_release": "10s"},
            "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [{"asset_id": f"P-{i}", "asset_class": "pump"} for i in range(4)],
            "models": [entry],
            "cases": {"close_quiet": GAP},
        }
    )
    now = [1_000.0]
    long = fleet.melt(id_vars=["asset_id", "ts"], var_name="channel").dropna()
    long["ts_us"] = pd.DatetimeIndex(long["ts"]).as_unit("us").asi8
    with Store(tmp_path / "stream.duckdb") as store:
        pipe = OnlinePipeline(store, cfg, clock=lambda: now[0])
        for _, batch in long.groupby(long["ts_us"] // (12 * 3_600_000_000), sort=True):
            cols = ReadingColumns()
            for row in batch[["asset_id", "channel", "ts_us", "value"]].itertuples(index=False):
                cols.add(row.asset_id, row.channel, int(row.ts_us), float(row.value))
            pipe.process(cols, [])
            now[0] += 0.05
        now[0] += 60
        pipe.tick()
        pipe.close()
    streamed = _cases(casebook_path_for(tmp_path / "stream.duckdb"))
    filed = _cases(casebook_path_for(nightly["store"]))
    assert [c[:5] for c in streamed] == [c[:5] for c in filed] and len(filed) >= 4


def test_an_asset_that_stops_sending_keeps_its_case_with_a_note(fleet: pd.DataFrame) -> None:
    """P-1's readings stop a day after its first burst while the others go on for days: its case is not closed by the
    rule (silence is no evidence it went quiet) and says so; the others' cases follow the rule."""
    from forewarn.detect import detect_frame
    from forewarn.detect.cases import file_cases

    stop = T0 + pd.Timedelta(hours=275)
    frame = fleet[(fleet["asset_id"] != "P-1") | (fleet["ts"] < stop)].assign(ts=lambda f: f["ts"].astype(str))
    result = detect_frame(frame, asset_column="asset_id", timestamp_column="ts")
    book = CaseBook(close_quiet=pd.Timedelta(days=2))  # GAP
    file_cases(result, book)
    (case,) = [c for c in book.cases(asset_id="P-1") if c["status"] != "closed"]
    assert str(case["note"]).startswith("no readings since 2024-03-12 10:00 UTC: kept open"), case
    assert book.open_case_id("P-1") == case["case_id"]
    book.close()
