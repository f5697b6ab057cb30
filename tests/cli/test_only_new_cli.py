"""``forewarn detect --store DB --models FITS --only-new``: the one-line messages of a nightly run that scores only
what is new (the rows it scored, the assets scored whole and why, nothing new, the marks kept), what it refuses,
and the scores file holding the new rows only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.detect.since import MARKS_FILE
from forewarn.schema import Asset
from forewarn.store import Store
from testkit import run_cli

T0 = pd.Timestamp("2024-06-01", tz="UTC")


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def _readings(asset: str, lo: int, hi: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = T0 + pd.to_timedelta(np.arange(lo, hi) * 10, "min")
    return pd.DataFrame({"asset_id": asset, "ts": ts, "rpm": 1500 + rng.normal(0, 5, hi - lo)})


def _load(store: Path, lo: int, hi: int) -> None:
    with Store(store) as db:
        if not db.assets().shape[0]:
            db.add_assets([Asset(a, "fan") for a in ("F-1", "F-2")])
        for seed, asset in enumerate(("F-1", "F-2")):
            db.ingest_readings(_readings(asset, lo, hi, seed * 1000 + lo))


def _detect(store: Path, out: Path, fits: Path, *extra: str) -> list[str]:
    return ["detect", "--store", str(store), "--out", str(out), "--save-models", str(fits), "--cases", *extra]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("only_new_cli")
    store, fits = root / "plant.duckdb", root / "fits"
    _load(store, 0, 300)
    return {"root": root, "store": store, "fits": fits}


def test_the_nights_say_what_they_scored(nights: dict, capsys: pytest.CaptureFixture[str]) -> None:
    root, store, fits = nights["root"], nights["store"], nights["fits"]
    assert run_cli(_detect(store, root / "s1.csv", fits, "--only-new")) == 0
    first = capsys.readouterr().out
    assert "scored 600 new row(s) of 2 asset(s)" in first
    assert (
        "only new rows: 0 asset(s) scored after their last scored row; 2 fitted now, scored whole (F-1, F-2)" in first
    )
    assert f"marks: each asset's last scored row kept in {fits / MARKS_FILE}" in first
    _load(store, 300, 340)
    assert run_cli(_detect(store, root / "s2.csv", fits, "--models", str(fits), "--only-new")) == 0
    second = capsys.readouterr().out
    assert "scored 80 new row(s) of 2 asset(s)" in second
    assert (
        f"only new rows: 2 asset(s) scored after their last scored row; {root / 's2.csv'} holds the new rows only"
        in (second)
    )
    scores = pd.read_csv(root / "s2.csv")
    assert len(scores) == 80 and pd.to_datetime(scores["timestamp"], utc=True).min() == T0 + pd.Timedelta(hours=50)
    # nothing new: said, and a file with the header only
    assert run_cli(_detect(store, root / "s3.csv", fits, "--models", str(fits), "--only-new")) == 0
    third = capsys.readouterr().out
    assert (
        f"nothing new: no asset has rows after its last scored row (2 asset(s)); {root / 's3.csv'} holds the" in third
    )
    assert "highest no row" in third
    assert (root / "s3.csv").read_text().strip() == "asset_id,timestamp,anomaly_score,alarm"
    # an older reading replaced: that asset is scored whole again, said in one line
    changed = _readings("F-2", 100, 101, 7).assign(rpm=2000.0)
    changed.to_csv(root / "fix.csv", index=False)
    assert run_cli(["ingest", str(root / "fix.csv"), "--store", str(store), "--on-conflict", "replace"]) == 0
    capsys.readouterr()
    assert run_cli(_detect(store, root / "s4.csv", fits, "--models", str(fits), "--only-new")) == 0
    fourth = capsys.readouterr().out
    assert (
        "1 with nothing new; 1 rescored whole: rows up to their last scored row changed in the store since (F-2)"
        in (fourth)
    )
    assert len(pd.read_csv(root / "s4.csv")) == 340


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--only-new"], "give --store DB and --models DIR"),
        (["--only-new", "--store", "{store}"], "give --store DB and --models DIR"),
    ],
)
def test_what_is_refused(nights: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, says) -> None:  # noqa: ANN001
    source = tmp_path / "in.csv"
    _readings("F-1", 0, 30, 1).to_csv(source, index=False)
    given = [e.format(store=nights["store"]) for e in extra]
    where = [] if "--store" in given else [str(source)]
    code = run_cli(["detect", *where, "--out", str(tmp_path / "o.csv"), *given])
    err = _flat(capsys.readouterr().err)
    assert code == 2 and says in err and "--only-new" in err and "Traceback" not in err, err
    assert not (tmp_path / "o.csv").exists()


def test_unreadable_marks_are_refused_in_one_line(nights: dict, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    fits = tmp_path / "fits"
    assert run_cli(_detect(nights["store"], tmp_path / "o.csv", fits, "--only-new")) == 0
    (fits / MARKS_FILE).write_text("{not json", encoding="utf-8")
    capsys.readouterr()
    code = run_cli(_detect(nights["store"], tmp_path / "o.csv", fits, "--models", str(fits), "--only-new"))
    err = _flat(capsys.readouterr().err)
    assert code == 2 and "is not valid JSON" in err and "delete it to score every asset whole" in err, err
