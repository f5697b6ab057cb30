"""``forewarn detect FILE`` reads a file as ``forewarn ingest`` does: units rows under the header, and
``--time-format`` / ``--timezone`` with ingest's meaning and parser (local times across the fall-back night)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.cli.main import app
from forewarn.detect import detect_file
from forewarn.exceptions import ConfigError, SchemaError


def _fleet(n: int = 144) -> pd.DataFrame:
    """Two assets of 10-minute rows in UTC from 2024-10-26 22:00 (the Berlin clocks go back at 01:00 UTC)."""
    rng = np.random.default_rng(4)
    frames = []
    for asset in ("P-1", "P-2"):
        utc = pd.date_range("2024-10-26 22:00", periods=n, freq="10min", tz="UTC")
        temp = 70 + rng.normal(0, 0.5, n)
        temp[100:] += 6.0  # a level shift to alarm on
        frames.append(
            pd.DataFrame(
                {"asset_id": asset, "utc": utc, "temp": temp.round(3), "flow": (12 + rng.normal(0, 0.1, n)).round(3)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def _write(frame: pd.DataFrame, path, times: pd.Series, header_rows: str = "") -> None:
    body = frame.drop(columns="utc").assign(ts=times)[["asset_id", "ts", "temp", "flow"]]
    path.write_text(
        "asset_id;ts;temp;flow\n" + header_rows + body.to_csv(sep=";", index=False, header=False, decimal=",")
    )


def test_local_day_first_times_with_units_rows_score_as_the_utc_file(tmp_path):
    fleet = _fleet()
    iso, local = tmp_path / "iso.csv", tmp_path / "local.csv"
    _write(fleet, iso, fleet["utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    berlin = fleet["utc"].dt.tz_convert("Europe/Berlin").dt.strftime("%d.%m.%Y %H:%M")
    assert berlin.duplicated().sum() > 0  # the repeated hour is in the file
    _write(fleet, local, berlin, header_rows=";Zeitstempel;Temperatur;Durchfluss\n;;°C;m3/h\n")
    expected = detect_file(iso, tmp_path / "a.csv")
    got = detect_file(local, tmp_path / "b.csv", time_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin")
    assert got.notes[0] == f"{local}: lines 2-3 read as the channels' units, not as readings (temp: °C, flow: m3/h)"
    np.testing.assert_allclose(got.scores["anomaly_score"], expected.scores["anomaly_score"])
    assert got.scores["alarm"].tolist() == expected.scores["alarm"].tolist() and expected.alarms >= 1
    written = pd.read_csv(tmp_path / "b.csv")
    assert pd.to_datetime(written["timestamp"]).tolist() == fleet["utc"].tolist()  # in UTC, in file order


def test_errors_name_the_file_line_after_units_rows_and_the_format(tmp_path):
    fleet = _fleet(n=40)
    path = tmp_path / "bad.csv"
    times = fleet["utc"].dt.strftime("%d.%m.%Y %H:%M").copy()
    times.iloc[7] = "2024-10-26 23:10"
    _write(fleet, path, times, header_rows=";;°C;m3/h\n")
    with pytest.raises(SchemaError, match=r"line 10, column 'ts': cannot parse timestamp '2024-10-26 23:10' with"):
        detect_file(path, tmp_path / "o.csv", time_format="%d.%m.%Y %H:%M")
    _write(fleet, path, fleet["utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), header_rows=";;°C;m3/h\n")
    lines = path.read_text().splitlines()
    lines[12] = lines[12].replace("P-1;", ";", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=r"line 13, column 'asset_id': missing asset id"):
        detect_file(path, tmp_path / "o.csv")
    with pytest.raises(ConfigError, match="unknown time zone 'Europe/Berln'"):
        detect_file(path, tmp_path / "o.csv", timezone="Europe/Berln")


def test_the_cli_takes_ingest_time_options_for_a_file_only(tmp_path):
    fleet = _fleet(n=60)
    path = tmp_path / "epoch.csv"
    _write(fleet, path, ((fleet["utc"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype(str))
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["detect", str(path), "--out", str(out), "--time-format", "epoch"])
    assert result.exit_code == 0, result.output
    assert pd.to_datetime(pd.read_csv(out)["timestamp"]).tolist() == fleet["utc"].tolist()
    result = CliRunner().invoke(
        app, ["detect", "--store", str(tmp_path / "s.duckdb"), "--out", str(out), "--timezone", "Europe/Berlin"]
    )
    assert result.exit_code == 2 and "apply to an INPUT file" in result.output


def test_detect_takes_ingests_time_column_name(tmp_path: Path) -> None:
    """``--time-column`` as ``forewarn ingest`` spells it (``--timestamp-column`` still reads)."""
    ts = pd.date_range("2024-01-01", periods=120, freq="1h")
    frame = pd.DataFrame({"engine": "E1", "Zeit": ts.strftime("%d.%m.%Y %H:%M"), "temp": np.sin(np.arange(120))})
    source = tmp_path / "export.csv"
    frame.to_csv(source, index=False)
    outputs = []
    for flag in ("--time-column", "--timestamp-column"):
        out = tmp_path / f"{flag.strip('-')}.csv"
        args = ["detect", str(source), "--out", str(out), "--asset-column", "engine", flag, "Zeit"]
        result = CliRunner().invoke(app, [*args, "--time-format", "%d.%m.%Y %H:%M"])
        assert result.exit_code == 0, result.output
        outputs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
    assert len(outputs[0]) == 120


def test_a_tag_export_is_told_how_to_go_in(tmp_path: Path) -> None:
    """A historian's ``tag, timestamp, value, quality`` export repeats each time once per tag: ``detect FILE`` says
    to ingest it with a tag map and score the store, not to score each tag as an asset."""
    ts = pd.date_range("2024-01-01", periods=48, freq="1h").strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [
        {"tag": tag, "timestamp": t, "value": 40.0 + k % 3, "quality": "Good"}
        for k, t in enumerate(ts)
        for tag in ("P1.Temp", "P1.Vib")
    ]
    source = tmp_path / "historian.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    with pytest.raises(SchemaError, match="share a timestamp") as caught:
        detect_file(source, tmp_path / "o.csv")
    said = str(caught.value)
    assert "--tag-map" in said and "detect --store" in said and "--asset-column tag" not in said, said
