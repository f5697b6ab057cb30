"""Three exports the way plants write them, for a new user's walk through Forewarn (issue 12, third pass).

Not our loader's format: each file keeps the plant's own column names, separators and marks.

(a) ``ai4i_hourly_de.csv``: AI4I 2020 reshaped to one row per machine and hour (row ``i`` of the file is machine
    ``M(i mod 10)``, hour ``i div 10`` from 2024-03-01 00:00 local Berlin time), German column names, a
    failure flag column ``Ausfall``, the product type as text, ``;`` separated with decimal commas, UTF-8 with a
    byte order mark, day-first local times; ``ai4i_assets.csv``, the machines' list under German headers.
(b) ``fd001_wide.csv`` + ``fd001_failures.csv``: C-MAPSS FD001 *training* engines, one cycle written as one hour
    from 2024-01-01 00:00 UTC for every engine, an ``engine`` column and sensors named as a plant would name them;
    the failures as a separate work-order CSV (``engine``, ``date``, ``event``, ``description``) with the failure
    one hour after the engine's last row.
(c) ``historian_long.csv`` + ``tag_map.csv`` + ``historian_events.csv``: a twin fleet (``forewarn simulate
    --parquet T``) as a historian's long export (``tag``, ``timestamp``, ``value``, ``quality``), about 2 % of the
    rows with quality ``Bad`` (value 0, as historians write a failed read) and 1 % ``Uncertain``; the tag-to-asset
    mapping (``tag``, ``asset``, ``channel``, ``unit``) and the twin's events (failures and maintenance) with the
    plant's own column names; ``historian_assets.csv``, the asset list (``Equipment, Plant, Area, Equipment type``).

    python benchmarks/walk_exports.py --data-dir ../shared/data --out /tmp/walk_x --twin T
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

AI4I_NAMES = {
    "Type": "Typ",
    "Air temperature [K]": "Lufttemperatur [K]",
    "Process temperature [K]": "Prozesstemperatur [K]",
    "Rotational speed [rpm]": "Drehzahl [1/min]",
    "Torque [Nm]": "Drehmoment [Nm]",
    "Tool wear [min]": "Werkzeugverschleiß [min]",
    "Machine failure": "Ausfall",
}
FD_NAMES = ["engine", "cycle", "altitude", "mach", "tra"] + [f"sensor_{i:02d}" for i in range(1, 22)]


def ai4i_export(data: Path, out: Path, machines: int = 10) -> pd.DataFrame:
    """(a) AI4I as one row per machine and hour, German Excel style (``;``, decimal comma, BOM, local times)."""
    frame = pd.read_csv(data / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig")
    idx = np.arange(len(frame))
    start = pd.Timestamp("2024-03-01 00:00", tz="Europe/Berlin")
    utc = start.tz_convert("UTC") + pd.to_timedelta(idx // machines, unit="h")
    local = pd.DatetimeIndex(utc).tz_convert("Europe/Berlin")
    wide = frame[list(AI4I_NAMES)].rename(columns=AI4I_NAMES)
    wide.insert(0, "Zeitstempel", local.strftime("%d.%m.%Y %H:%M"))
    wide.insert(0, "Maschine", [f"M{i % machines + 1:02d}" for i in idx])
    wide.to_csv(out / "ai4i_hourly_de.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig")
    ids = [f"M{k + 1:02d}" for k in range(machines)]
    pd.DataFrame(
        {
            "Maschine": ids,
            "Standort": "Werk Nord",
            "Linie": [f"Fräsen {k // 5 + 1}" for k in range(machines)],
            "Klasse": "Fräsmaschine",
            "Baujahr": [2010 + (k + 1) % 10 for k in range(machines)],
            "Nennleistung [kW]": 7.5,
        }
    ).to_csv(out / "ai4i_assets.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig")
    return wide


def cmapss_export(data: Path, out: Path) -> pd.DataFrame:
    """(b) FD001 training engines as a wide CSV with timestamps and an ``engine`` column, failures apart."""
    frame = pd.read_csv(data / "cmapss" / "train_FD001.txt.gz", sep=r"\s+", header=None, names=FD_NAMES)
    frame["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(frame.cycle - 1, unit="h")
    wide = frame.drop(columns="cycle").assign(
        engine=[f"ENG-{u:03d}" for u in frame.engine],
        timestamp=frame.timestamp.dt.strftime("%Y-%m-%d %H:%M:%S"),
    )
    wide = wide[["engine", "timestamp", *FD_NAMES[2:]]]
    wide.to_csv(out / "fd001_wide.csv", index=False)
    last = frame.groupby("engine").timestamp.max() + pd.Timedelta("1h")
    events = pd.DataFrame(
        {
            "engine": [f"ENG-{u:03d}" for u in last.index],
            "date": last.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
            "event": "failure",
            "description": "engine removed: HPC degradation",
        }
    )
    events.to_csv(out / "fd001_failures.csv", index=False)
    return wide


def historian_export(twin: Path, out: Path, seed: int = 5) -> pd.DataFrame:
    """(c) A twin fleet as a historian's long export with quality flags, a tag map and an events file."""
    wide = pd.read_parquet(twin / "readings.parquet")
    readings = wide.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna()
    readings = readings.sort_values(["ts", "asset_id", "channel"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    tags = readings.asset_id.str.replace("-", "_") + "." + readings.channel.str.upper()
    long = pd.DataFrame(
        {
            "tag": "PLANT1." + tags,
            "timestamp": pd.to_datetime(readings.ts, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "value": readings.value.round(4),
            "quality": "Good",
        }
    )
    draw = rng.random(len(long))
    long.loc[draw < 0.02, "quality"] = "Bad"
    long.loc[draw < 0.02, "value"] = 0.0
    long.loc[(draw >= 0.02) & (draw < 0.03), "quality"] = "Uncertain"
    long.to_csv(out / "historian_long.csv", index=False)
    pairs = readings[["asset_id", "channel"]].drop_duplicates()
    tag_map = pd.DataFrame(
        {
            "tag": "PLANT1." + pairs.asset_id.str.replace("-", "_") + "." + pairs.channel.str.upper(),
            "asset": pairs.asset_id,
            "channel": pairs.channel,
        }
    )
    tag_map.to_csv(out / "tag_map.csv", index=False)
    events = pd.read_parquet(twin / "events.parquet")
    log = pd.DataFrame(
        {
            "Equipment": events.asset_id,
            "Reported": pd.to_datetime(events.ts, utc=True).dt.strftime("%Y-%m-%d %H:%M"),
            "Type": events.kind,
            "Failure mode": events.get("failure_mode"),
            "Work done": events.get("action"),
        }
    )
    log.to_csv(out / "historian_events.csv", index=False)
    plant = json.loads((twin / "assets.json").read_text())["assets"]
    pd.DataFrame(
        {
            "Equipment": [a["asset_id"] for a in plant],
            "Plant": [a["site_id"] for a in plant],
            "Area": [a["line_id"] for a in plant],
            "Equipment type": [a["asset_class"] for a in plant],
            "Manufacturer": "ACME",
        }
    ).to_csv(out / "historian_assets.csv", index=False)
    return long


def main() -> None:
    """Write the exports named in the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--twin", type=Path, help="a folder written by forewarn simulate --parquet")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ai4i_export(args.data_dir, args.out)
    cmapss_export(args.data_dir, args.out)
    if args.twin is not None:
        historian_export(args.twin, args.out)
    for path in sorted(args.out.iterdir()):
        print(f"{path.name}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
