"""``forewarn ingest --hold`` and a tag map's ``hold`` column: channels recorded on change (forewarn.store.hold)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forewarn.store import Store
from testkit import forewarn_process

EXPORT = (
    "tag,timestamp,value\nP1.T,2024-01-01T00:00:00Z,40\nP1.T,2024-01-01T05:00:00Z,41\nP1.V,2024-01-01T05:00:00Z,2\n"
)


_forewarn = forewarn_process


def test_ingest_hold_marks_the_channels_and_bad_values_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(EXPORT)
    (tmp_path / "map.csv").write_text("tag,asset,channel\nP1.T,P-1,temp\nP1.V,P-1,vib\n")
    store = str(tmp_path / "s.duckdb")
    common = [
        "ingest",
        str(tmp_path / "h.csv"),
        "--store",
        store,
        "--tag-map",
        str(tmp_path / "map.csv"),
        "--time-column",
        "timestamp",
    ]
    for bad in ("-8h", "soon", "60d"):
        done = _forewarn(*common, "--hold", bad)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "hold=" in done.stderr and "time span" in done.stderr + done.stdout
    if Path(store).exists():
        with Store(store, read_only=True) as db:
            assert db.assets().empty  # nothing written
    done = _forewarn(*common, "--hold", "8h")
    assert done.returncode == 0, done.stderr
    assert "2 channel(s) recorded on change, a value holding until the next reading (at most 8h)" in done.stderr
    with Store(store, read_only=True) as db:
        assert set(db.holds()["hold"]) == {pd.Timedelta("8h")}
        assert db.readings("P-1", resample="1h", channels=["temp"])["value"].tolist() == [40.0] * 5 + [41.0]


def test_a_tag_maps_bad_hold_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(EXPORT)
    (tmp_path / "map.csv").write_text("tag,asset,channel,hold\nP1.T,P-1,temp,8h\nP1.V,P-1,vib,eight hours\n")
    done = _forewarn(
        "ingest",
        str(tmp_path / "h.csv"),
        "--store",
        str(tmp_path / "s.duckdb"),
        "--tag-map",
        str(tmp_path / "map.csv"),
        "--time-column",
        "timestamp",
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "map.csv, line 3, column 'hold'" in done.stderr and "'eight hours'" in done.stderr
