"""``forewarn detect --episode-rows N``: the alarm rule's episodes last at most N rows (a lasting anomaly alarms again)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alarms import AlarmRule, find_alarms
from testkit import run_cli


def _fleet(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for i, asset in enumerate("ab"):
        drive = np.zeros(n)
        for t in range(1, n):
            drive[t] = 0.9 * drive[t - 1] + rng.normal(0, 0.2)
        part = pd.DataFrame(
            {
                "asset": asset,
                "ts": pd.date_range("2024-05-01", periods=n, freq="1min").strftime("%Y-%m-%d %H:%M:%S"),
                "temp": 70 + 5 * i + 3 * drive + rng.normal(0, 0.2, n),
                "current": 12 + drive + rng.normal(0, 0.1, n),
            }
        )
        if i == 0:
            part.loc[200:, "current"] += 3.0  # a shift that lasts to the end
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _detect(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    out, events = tmp_path / f"scores{len(extra)}.csv", tmp_path / f"events{len(extra)}.csv"
    code = run_cli(["detect", str(tmp_path / "fleet.csv"), "--out", str(out), "--events", str(events), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return pd.read_csv(out), pd.read_csv(events), captured.out


def test_a_lasting_shift_alarms_again_every_n_rows_on_the_same_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fleet().to_csv(tmp_path / "fleet.csv", index=False)
    plain, plain_events, _ = _detect(tmp_path, ["--episode-rows", "0"], capsys)  # no limit, whatever the default
    scores, events, stdout = _detect(tmp_path, ["--episode-rows", "20"], capsys)
    assert np.array_equal(plain["anomaly_score"].to_numpy(), scores["anomaly_score"].to_numpy())
    assert "at most 20 rows each" in stdout and "at most" not in _detect(tmp_path, ["--episode-rows", "0"], capsys)[2]
    rule = AlarmRule(episode_rows=20)
    for asset, rows in scores.groupby("asset_id"):
        alarms, _ = find_alarms(rows["anomaly_score"].to_numpy(), rule, ts=rows["timestamp"])
        assert rows["alarm"].tolist() == alarms.tolist(), asset
    assert len(events) == int(scores["alarm"].sum()) and ((events["end"] - events["start"]) < 20).all()
    shifted = events[(events["asset_id"] == "a") & (events["start"] >= 200)]
    before = plain_events[(plain_events["asset_id"] == "a") & (plain_events["end"] >= 200)]
    assert len(shifted) > len(before) >= 1  # the shift is announced more than once


def test_the_saved_stream_entry_carries_the_rule_zero_is_no_limit_and_a_negative_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fleet().to_csv(tmp_path / "fleet.csv", index=False)
    _, _, stdout = _detect(tmp_path, ["--episode-rows", "48", "--save-models", str(tmp_path / "fits")], capsys)
    assert "alarm = { episode_rows = 48 }" in stdout
    unlimited, _, stdout = _detect(tmp_path, ["--episode-rows", "0"], capsys)
    assert "at most" not in stdout
    rule = AlarmRule()  # no limit
    for _, rows in unlimited.groupby("asset_id"):
        assert (
            rows["alarm"].tolist()
            == find_alarms(rows["anomaly_score"].to_numpy(), rule, ts=rows["timestamp"])[0].tolist()
        )
    code = run_cli(["detect", str(tmp_path / "fleet.csv"), "--out", str(tmp_path / "s.csv"), "--episode-rows", "-1"])
    assert code == 2 and "--episode-rows" in capsys.readouterr().err
