"""The case rule in the stream (issue 14 item 4): ``[cases] close_quiet`` sets the gap of a lone stream's case book;
"quiet" counts from an alarm episode's last alarming row, so an episode longer than the gap keeps its case open (on
the stream's own book and on the service's under ``serve --stream``); an asset whose readings stop keeps its case
open with the note "no readings since ..."."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.decide.quiet import DEFAULT_CLOSE_QUIET
from forewarn.exceptions import ConfigError
from forewarn.serve.service import HealthService
from forewarn.serve.settings import ServeSettings
from forewarn.store import Store
from forewarn.stream.config_file import load_config, parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline, close_quiet_of

from .conftest import T0_MS, WINDOW, assets_config, long_rows, make_fleet

ALARM = {"on": 0.5, "off": 0.3, "clear_rows": 3, "scale": 20.0}  # PCA T2/Q: healthy < 5, the jump > 100
LONG = (100, 200)  # P-1's vibration jump (minutes): one episode five times the gap
SHORT = (150, 160)  # P-2's, after which P-2 sends nothing from minute SILENT on
SILENT = 175
GAP = "20min"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _rows() -> list[tuple[str, str, int, float]]:
    wide = make_fleet(assets=3, steps=300, seed=3)
    minute = (wide["ts"].astype("int64") // 1000 - T0_MS) // 60_000
    for asset, (lo, hi) in (("P-1", LONG), ("P-2", SHORT)):
        wide.loc[(wide["asset_id"] == asset) & (minute >= lo) & (minute < hi), "vib"] += 6.0
    wide = wide[~((wide["asset_id"] == "P-2") & (minute >= SILENT))]
    return long_rows(wide)


def _config(model_dir: Path, cases: dict | None = None) -> dict:
    raw = {
        "pipeline": {"idle_release": "10s"},
        "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
        "assets": assets_config(),
        "models": [{"path": str(model_dir), "model_id": "pump-pca", "window": WINDOW, "alarm": ALARM}],
    }
    return raw if cases is None else {**raw, "cases": cases}


def _minute(ts: pd.Timestamp) -> float:
    return (ts.value // 1_000_000 - T0_MS) / 60_000


def _feed_until(pipe: OnlinePipeline, rows: list, minute: int, clock: Clock, done: int) -> int:
    """Feed the rows before ``minute`` (from ``done`` on) in chunks; returns how many rows are fed."""
    limit = (T0_MS + minute * 60_000) * 1000
    end = done
    while end < len(rows) and rows[end][2] < limit:
        end += 1
    for lo in range(done, end, 29):
        cols = ReadingColumns()
        for asset, channel, ts, value in rows[lo : min(lo + 29, end)]:
            cols.add(asset, channel, ts, value)
        pipe.process(cols, [])
        clock.now += 0.05
    return end


def test_close_quiet_setting_and_its_default(tmp_path: Path, model_dir: Path) -> None:
    with Store() as store:
        for cases, expected in (
            (None, DEFAULT_CLOSE_QUIET),
            ({"close_quiet": "36h"}, pd.Timedelta("36h")),
            ({"close_quiet": "0"}, None),
            ({"close_quiet": 0}, None),
        ):
            pipe = OnlinePipeline(store, parse_config(_config(model_dir, cases)))
            assert pipe.casebook is not None and pipe.casebook.quiet == expected, cases
            pipe.close()
    # no setting: the horizon in hours of the first bundle that has one (serve --close-quiet's rule)
    hourly = SimpleNamespace(bundle=SimpleNamespace(unit="hours", spec=SimpleNamespace(horizon=72)))
    cycles = SimpleNamespace(bundle=SimpleNamespace(unit="cycles", spec=SimpleNamespace(horizon=30)))
    plain = SimpleNamespace(bundle=None)
    cfg = parse_config(_config(model_dir))
    assert close_quiet_of(cfg, [plain, cycles, hourly]) == pd.Timedelta("72h")  # type: ignore[list-item]
    assert close_quiet_of(cfg, [plain, cycles]) == DEFAULT_CLOSE_QUIET  # type: ignore[list-item]
    set_cfg = parse_config(_config(model_dir, {"close_quiet": "2d"}))
    assert close_quiet_of(set_cfg, [hourly]) == pd.Timedelta("2D")  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"soon"', "'soon' is not a time span; write e.g. '7d' or '36h', or '0' to never close"),
        ("7", "expected a time span such as '7d' or '36h', or '0' to never close, got 7"),
        ('"-2d"', "must not be negative"),
    ],
)
def test_a_bad_close_quiet_names_the_file_line_and_key(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "stream.toml"
    path.write_text(
        '[mqtt]\n[[mqtt.subscriptions]]\ntopic = "p/+/+"\nlayout = "value"\nasset = "{1}"\nchannel = "{2}"\n\n'
        f"[cases]\nclose_quiet = {value}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert text.startswith(f"{path}, line 9, cases.close_quiet: ") and message in text and "\n" not in text


def _long_episode_and_silence(store: Store, model_dir: Path) -> None:
    """P-1's episode (five gaps long) keeps its case open while it lasts, which closes a gap after its last alarming
    row; P-2, silent from minute ``SILENT`` on, keeps its case open with the note "no readings since ..."."""
    rows = _rows()
    clock = Clock()
    pipe = OnlinePipeline(store, parse_config(_config(model_dir, {"close_quiet": GAP})), clock=clock)
    try:
        book = pipe.casebook
        assert book is not None
        done = _feed_until(pipe, rows, 190, clock, 0)  # P-1's episode has lasted 90 minutes, its alert 1
        (case,) = book.cases(asset_id="P-1")
        assert case["status"] == "open" and case["n_alerts"] == 1, case  # the episode still alarms: not quiet
        state = book.policy_state("stream:pump-pca")
        told = dict(zip(state["asset_id"].tolist(), state["last_active_ns"].tolist(), strict=True))
        assert _minute(pd.Timestamp(told["P-1"], tz="UTC")) >= 185  # the episode's last alarming row, told
        done = _feed_until(pipe, rows, 290, clock, done)
        clock.now += 60  # the open cases' assets are checked for silence at most every 10 s (of the stream's clock)
        _feed_until(pipe, rows, 300, clock, done)
        clock.now += 60
        pipe.tick()
        (case,) = book.cases(asset_id="P-1")
        state = book.policy_state("stream:pump-pca")
        told = dict(zip(state["asset_id"].tolist(), state["last_active_ns"].tolist(), strict=True))
        end = _minute(pd.Timestamp(told["P-1"], tz="UTC"))
        assert case["status"] == "closed" and case["closed_by"] == "forewarn", case
        assert str(case["note"]).startswith("quiet for 20 min after its last alarm")
        assert _minute(case["closed_ts"]) == end + 20 and LONG[1] <= end < LONG[1] + WINDOW + 3
        (silent,) = book.cases(asset_id="P-2")  # its readings stopped 4 gaps before the others'
        assert silent["status"] == "open", silent
        assert str(silent["note"]).startswith("no readings since ")
        last = pd.Timestamp(T0_MS + (SILENT - 1) * 60_000, unit="ms", tz="UTC").floor("min")  # P-2's last reading
        assert pd.Timestamp(silent["note"][18:34], tz="UTC") == last
        assert not book.cases(asset_id="P-0")  # the healthy pump: no case
    finally:
        pipe.close()


def test_a_long_episode_keeps_its_case_and_a_silent_asset_is_noted(tmp_path: Path, model_dir: Path) -> None:
    path = tmp_path / "plant.duckdb"
    with Store(path) as store:
        _long_episode_and_silence(store, model_dir)
    book = CaseBook(casebook_path_for(path), close_quiet=None)  # read back: what forewarn serve would list
    assert sorted((c["asset_id"], c["status"]) for c in book.cases()) == [("P-1", "closed"), ("P-2", "open")]
    book.close()


@pytest.mark.slow
def test_the_same_on_postgres(tmp_path: Path, model_dir: Path) -> None:
    """On a PostgreSQL store (its case book in the same database): the same cases and notes."""
    from forewarn.store.pg_local import LocalPostgres, binaries

    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    server = LocalPostgres(tmp_path / "pg", durable=False)
    server.start()
    try:
        with Store(server.create_database("stream_case_rule")) as store:
            _long_episode_and_silence(store, model_dir)
    finally:
        server.stop()


def test_the_service_book_knows_the_stream_episode(tmp_path: Path, model_dir: Path, caplog) -> None:  # noqa: ANN001
    """Under ``serve --stream`` the stream tells the service's case book its episodes; the service's rule applies
    (the config's gap is not used, and the log says so)."""
    rows = _rows()
    clock = Clock()
    path = tmp_path / "plant.duckdb"
    with Store(path) as store:
        service = HealthService(ServeSettings(store=str(path), token="t" * 24, close_quiet=GAP), store=store)
        with caplog.at_level(logging.WARNING, logger="forewarn.stream.pipeline"):
            cfg = parse_config(_config(model_dir, {"close_quiet": "3d"}))
            pipe = OnlinePipeline(store, cfg, clock=clock, file_alerts=service.cases.file)
        assert "close_quiet = '3d' is not used" in caplog.text
        _feed_until(pipe, rows, 190, clock, 0)
        (case,) = service.cases.cases(asset_id="P-1")  # listing applies the service's rule: the episode lasts
        assert case["status"] == "open" and case["n_alerts"] == 1, case
        pipe.close()
        service.casebook.close()
