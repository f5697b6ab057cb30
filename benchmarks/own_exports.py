"""Plant exports nobody tuned for, made from the TRAINING parts of public sets and from the twin (issues 12, 14).

Writes the files of BENCHMARKS.md's "own exports nobody tuned for" table into ``--out``: the shapes real exports
come in (wide and long, ``;`` with decimal commas, day-first and local times across a daylight-saving change,
offsets, epoch seconds and milliseconds, unsorted and doubled rows, text marks for no value, a units row, UTF-16
with a byte order mark, a yes/no label column, a failure log as its own CSV, 250 channels, one asset, short
histories) from C-MAPSS FD002 ``train`` engines 1-20 (one cycle written as one hour from 2024-10-20, so the
Europe/Berlin fall-back of 2024-10-27 lies inside), SKAB's first 400 rows of three files (its training part),
AI4I 2020 (one row a minute), PHM 2012 Bearing2_1 of the Learning_set (RMS, peak and kurtosis of each 0.1 s
snapshot) and a twin fleet (``--twin DIR`` from ``forewarn simulate --parquet DIR``) in ISO and German Excel form.
Then run ``forewarn ingest | train | backtest | score | detect`` on them as the table's commands do.

    python benchmarks/own_exports.py --data-dir ../shared/data --out /tmp/exports [--twin DIR]
"""

from __future__ import annotations

import argparse
import os
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

CHANNELS = ["set1", "set2", "set3"] + [f"s{i}" for i in range(1, 22)]
ISO = "%Y-%m-%dT%H:%M:%SZ"


def cmapss_exports(data: Path, out: Path) -> None:
    """C-MAPSS FD002 train engines 1-20 in the shapes of a plant's exports, plus their failure log."""
    frame = pd.read_csv(data / "cmapss/train_FD002.txt.gz", sep=r"\s+", header=None, names=["unit", "cycle", *CHANNELS])
    frame = frame[frame.unit <= 20].copy()
    frame["ts"] = pd.Timestamp("2024-10-20", tz="UTC") + pd.to_timedelta(frame.cycle - 1, unit="h")
    frame["asset_id"] = "E" + frame.unit.astype(str).str.zfill(3)
    wide = frame[["asset_id", "ts", *CHANNELS]].reset_index(drop=True)
    iso = wide.assign(ts=wide.ts.dt.strftime(ISO))
    iso.to_csv(out / "c_wide.csv", index=False)
    ends = frame.groupby("asset_id").ts.max().reset_index()
    events = ends.assign(ts=(ends.ts + pd.Timedelta("1h")).dt.strftime(ISO), kind="failure", failure_mode="hpc")
    events.to_csv(out / "c_events.csv", index=False)
    local = pd.to_datetime(events.ts, utc=True).dt.tz_convert("Europe/Berlin").dt.strftime("%d.%m.%Y %H:%M")
    pd.DataFrame({"Anlage": events.asset_id, "Datum": local, "kind": "failure"}).to_csv(
        out / "c_events_local.csv", index=False, sep=";"
    )
    long = wide.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value")
    long.assign(ts=long.ts.dt.strftime("%Y-%m-%d %H:%M:%S+00:00")).sample(frac=1, random_state=1).to_csv(
        out / "c_long_unsorted.csv", index=False
    )
    berlin = wide.ts.dt.tz_convert("Europe/Berlin")
    german = wide.drop(columns="ts").rename(columns={"asset_id": "Anlage"})
    german.insert(1, "Zeit", berlin.dt.strftime("%d.%m.%Y %H:%M"))
    german.to_csv(out / "c_de_semicolon.csv", index=False, sep=";", decimal=",")
    wide.assign(ts=berlin.dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(out / "c_local_dst.csv", index=False)
    wide.assign(ts=berlin.map(lambda t: t.isoformat())).to_csv(out / "c_offsets.csv", index=False)
    seconds = (wide.ts - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta("1s")
    wide.assign(ts=seconds).to_csv(out / "c_epoch_s.csv", index=False)
    wide.assign(ts=seconds * 1000).to_csv(out / "c_epoch_ms.csv", index=False)
    wide.assign(ts=wide.ts.dt.strftime("%d/%m/%Y %H:%M")).to_csv(out / "c_excel_dayfirst.csv", index=False)
    doubled = pd.concat([iso, iso.sample(500, random_state=2)]).sample(frac=1, random_state=3)
    doubled.drop(index=iso.sample(300, random_state=4).index).to_csv(out / "c_dups_unsorted.csv", index=False)
    marks = iso.copy()
    rng = np.random.default_rng(0)
    for mark, column in zip(
        ["NaN", "n/a", "---", "#DIV/0!", "", "NULL", "-"], ["s2", "s3", "s4", "s7", "s8", "s9", "s11"], strict=True
    ):
        marks[column] = marks[column].astype(object)
        marks.loc[rng.choice(len(marks), 40, replace=False), column] = mark
    marks.assign(const=1.0, empty="").to_csv(out / "c_na_text.csv", index=False)
    units = pd.DataFrame([["", "", "-", "-", "-"] + ["degR"] * 21], columns=iso.columns)
    pd.concat([units, iso]).to_csv(out / "c_units_row.csv", index=False)
    iso.rename(columns={"s2": "T24 °R"}).to_csv(out / "c_utf16.csv", index=False, encoding="utf-16")
    life = frame.groupby("asset_id").cycle.transform("max").to_numpy()
    flag = np.where(life - frame.cycle.to_numpy() < 24, "yes", "no")
    iso.assign(fails_24h=flag).to_csv(out / "c_label_yesno.csv", index=False)
    iso[iso.asset_id == "E001"].to_csv(out / "c_one_asset.csv", index=False)
    iso.groupby("asset_id").head(15).to_csv(out / "c_short.csv", index=False)
    base = np.repeat(iso[CHANNELS].to_numpy(float), 11, axis=1)[:, :250]
    tags = pd.DataFrame(
        base * (1 + 0.01 * rng.standard_normal(base.shape)), columns=[f"tag_{i:03d}" for i in range(250)]
    )
    pd.concat([iso[["asset_id", "ts"]], tags], axis=1).to_csv(out / "c_250ch.csv", index=False)


def public_exports(data: Path, out: Path) -> None:
    """SKAB's training part as written (';'), AI4I as a minute log, PHM 2012 Bearing2_1 as snapshot features."""
    for name in ["valve1/0", "valve1/1", "other/1"]:
        skab = pd.read_csv(data / f"skab/data/{name}.csv", sep=";").head(400)  # SKAB's training part
        skab.to_csv(out / f"skab_{name.replace('/', '_')}.csv", sep=";", index=False)
    ai4i = pd.read_csv(data / "ai4i2020/ai4i2020.csv", encoding="utf-8-sig")
    ai4i["ts"] = (pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(ai4i.UDI, unit="min")).dt.strftime(ISO)
    ai4i["asset_id"] = "MILL-" + ai4i.Type
    ai4i.drop(columns=["UDI", "Product ID"]).to_csv(out / "ai4i_export.csv", index=False)
    rows = []
    with tarfile.open(data / "phm2012_femto/PHM2012_Learning_set_Bearing2_1.tar.gz") as tar:
        for member in sorted((m for m in tar.getmembers() if "/acc_" in m.name), key=lambda m: m.name):
            handle = tar.extractfile(member)
            assert handle is not None
            a = np.loadtxt(handle, delimiter=",")
            x = a[:, 4]
            rows.append(
                {
                    "time": f"2012-01-01 {int(a[0, 0]):02d}:{int(a[0, 1]):02d}:{int(a[0, 2]):02d}",
                    "rms_h": float(np.sqrt((x**2).mean())),
                    "rms_v": float(np.sqrt((a[:, 5] ** 2).mean())),
                    "peak_h": float(np.abs(x).max()),
                    "kurt_h": float(((x - x.mean()) ** 4).mean() / x.var() ** 2),
                }
            )
    pd.DataFrame(rows).to_csv(out / "femto_b21_rms.csv", index=False)


def twin_exports(twin: Path, out: Path) -> None:
    """A ``forewarn simulate --parquet`` fleet as an ISO wide CSV, a German Excel CSV and a long CSV (1 M rows)."""
    readings = pd.read_parquet(twin / "readings.parquet")
    readings.assign(ts=readings.ts.dt.strftime(ISO)).to_csv(out / "t_wide.csv", index=False)
    german = readings.drop(columns="ts").rename(columns={"asset_id": "Anlage"})
    german.insert(1, "Zeit", readings.ts.dt.tz_convert("Europe/Berlin").dt.strftime("%d.%m.%Y %H:%M"))
    german.to_csv(out / "t_de.csv", index=False, sep=";", decimal=",")
    long = readings.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna().head(1_000_000)
    long.assign(ts=long.ts.dt.strftime(ISO)).to_csv(out / "t_long.csv", index=False)
    pd.read_parquet(twin / "events.parquet").to_csv(out / "t_events.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FOREWARN_DATA_DIR", "../shared/data")))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--twin", type=Path, help="a folder written by forewarn simulate --parquet")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cmapss_exports(args.data_dir, args.out)
    public_exports(args.data_dir, args.out)
    if args.twin is not None:
        twin_exports(args.twin, args.out)
    print(f"exports in {args.out}: {', '.join(sorted(p.name for p in args.out.iterdir()))}")


if __name__ == "__main__":
    main()
