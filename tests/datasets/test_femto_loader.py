"""FEMTO / PHM 2012 loader: snapshot counts from phm2012_femto/MANIFEST.md, timing of the run, bad archives."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from forewarn.datasets.femto import SAMPLING_RATE_HZ, load_femto, snapshot_frame
from forewarn.exceptions import DataNotFoundError, SchemaError


@pytest.fixture(scope="module")
def femto(dataset_path):
    return load_femto(dataset_path("phm2012_femto").parent)


@pytest.mark.needs_data
def test_snapshot_counts_and_shapes(femto):
    assert [b.name for b in femto.bearings] == ["Bearing2_1", "Bearing2_2"]
    for bearing, count in zip(femto.bearings, (911, 797), strict=True):
        assert bearing.acc.shape == (count, 2560, 2) and bearing.acc.dtype == np.float32
        assert bearing.n_snapshots == count and bearing.condition == 2
        assert bearing.sampling_rate_hz == SAMPLING_RATE_HZ == 25600
        assert np.isfinite(bearing.acc).all()


@pytest.mark.needs_data
def test_values_of_first_and_last_rows(femto):
    b21 = femto.bearing("Bearing2_1")
    # acc_00001.csv line 1 "8,14,15,8.8441e+05,-0.391,0.011"; acc_00911.csv last line "10,45,55,9.8437e+05,0.026,5.154"
    assert b21.acc[0, 0].tolist() == pytest.approx([-0.391, 0.011])
    assert b21.acc[-1, -1].tolist() == pytest.approx([0.026, 5.154])


@pytest.mark.needs_data
def test_snapshot_times_and_life(femto):
    for bearing, life in zip(femto.bearings, (9100.1, 7960.1), strict=True):
        times = bearing.snapshot_times
        assert times[0] == 0.0 and np.all(np.diff(times) > 0)
        assert np.median(np.diff(times)) == pytest.approx(10.0, abs=0.01)
        # 08:14:15 -> 10:45:55 and 07:40:33 -> 09:53:13 (first rows of the first and last snapshots), + 0.1 s
        assert bearing.life_seconds == pytest.approx(life, abs=1.0)
    assert femto.life_seconds == {
        "Bearing2_1": femto.bearings[0].life_seconds,
        "Bearing2_2": femto.bearings[1].life_seconds,
    }
    frame = snapshot_frame(femto.bearings[1])
    assert len(frame) == 797 and frame["rul_seconds"].iloc[-1] == pytest.approx(0.1)


@pytest.mark.needs_data
def test_temperature_only_where_recorded(femto):
    temperature = femto.bearing("Bearing2_1").temperature
    assert temperature is not None and len(temperature) == 150 * 600 + 37
    assert list(temperature.columns) == ["seconds", "temperature_c"]
    assert temperature["temperature_c"].iloc[0] == 69.054  # temp_00001.csv "08;15;52;3;69.054"
    assert temperature["seconds"].is_monotonic_increasing and temperature["seconds"].iloc[0] > 0
    assert femto.bearing("Bearing2_2").temperature is None


@pytest.mark.needs_data
def test_choose_bearings(dataset_path):
    root = dataset_path("phm2012_femto").parent
    only = load_femto(root, bearings=["Bearing2_2"])
    assert [b.name for b in only.bearings] == ["Bearing2_2"]
    with pytest.raises(DataNotFoundError, match="Bearing1_1.*have Bearing2_1, Bearing2_2"):
        load_femto(root, bearings=["Bearing1_1"])
    with pytest.raises(DataNotFoundError, match="Bearing2_1"):
        only.bearing("Bearing2_1")


# ---------------------------------------------------------------- synthetic archives


def _acc_csv(clock: tuple[int, int, int], rows: int = 2560, sep: str = ",") -> bytes:
    h, m, s = clock
    lines = [sep.join([str(h), str(m), str(s), f"{39 * i}", "0.5", "-0.25"]) for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _archive(root, members: dict[str, bytes], name: str = "Bearing3_1", truncate: bool = False):
    folder = root / "phm2012_femto"
    folder.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(f"Learning_set/{name}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    (folder / f"PHM2012_Learning_set_{name}.tar.gz").write_bytes(data[: len(data) // 2] if truncate else data)
    return root


def test_synthetic_archive_crossing_midnight_with_semicolons(tmp_path):
    root = _archive(
        tmp_path,
        {
            "acc_00001.csv": _acc_csv((23, 59, 55)),
            "acc_00002.csv": _acc_csv((0, 0, 5), sep=";"),
            "temp_00001.csv": b"23;59;56;0;40.5\n23;59;56;1;40.6\n",
        },
    )
    bearing = load_femto(tmp_path).bearing("Bearing3_1")
    assert bearing.acc.shape == (2, 2560, 2) and bearing.condition == 3
    assert bearing.snapshot_times.tolist() == [0.0, 10.0]
    assert bearing.temperature["seconds"].tolist() == pytest.approx([1.0, 1.1])
    assert root.joinpath("phm2012_femto").is_dir()


def test_short_snapshot_is_named(tmp_path):
    _archive(tmp_path, {"acc_00001.csv": _acc_csv((1, 0, 0)), "acc_00002.csv": _acc_csv((1, 0, 10), rows=2559)})
    with pytest.raises(SchemaError, match=r"Bearing3_1/acc_00002\.csv: has 2559 rows, expected 2560"):
        load_femto(tmp_path)


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        (b"oops", r"field 6 \('oops'\) is not a number"),
        (b"", r"field 6 \(''\) is not a number"),
        (b"-0.25,1", "expected 6 fields, found 7"),
    ],
)
def test_bad_field_is_named_with_its_line(tmp_path, replacement, message):
    lines = _acc_csv((1, 0, 10)).splitlines(keepends=True)
    lines[7] = lines[7].replace(b"-0.25", replacement)
    _archive(tmp_path, {"acc_00001.csv": _acc_csv((1, 0, 0)), "acc_00002.csv": b"".join(lines)})
    with pytest.raises(SchemaError, match=r"acc_00002\.csv, line 8: " + message):
        load_femto(tmp_path)


def test_truncated_and_missing_archives(tmp_path):
    with pytest.raises(DataNotFoundError, match="phm2012_femto"):
        load_femto(tmp_path)
    (tmp_path / "phm2012_femto").mkdir()
    with pytest.raises(DataNotFoundError, match=r"no PHM2012_\*_Bearing\*\.tar\.gz.*expected layout"):
        load_femto(tmp_path)
    _archive(tmp_path, {f"acc_{i:05d}.csv": _acc_csv((1, 0, i)) for i in range(1, 9)}, truncate=True)
    with pytest.raises(SchemaError, match=r"PHM2012_Learning_set_Bearing3_1\.tar\.gz: cannot read the archive"):
        load_femto(tmp_path)
