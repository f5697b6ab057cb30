"""SKAB loader: per-file counts from skab/MANIFEST.md, the benchmark's 400-row split, and bad files."""

from __future__ import annotations

import pandas as pd
import pytest

from forewarn.datasets.skab import LABELS, SENSORS, SKABFile, load_skab, split
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError

# name, rows, anomaly=1 rows, changepoints, first datetime, last datetime (skab/MANIFEST.md)
MANIFEST = [
    ("other/1", 745, 188, 2, "2020-03-01 15:44:06", "2020-03-01 15:57:06"),
    ("other/2", 780, 384, 4, "2020-03-01 16:28:16", "2020-03-01 16:45:59"),
    ("other/3", 1137, 398, 4, "2020-03-01 16:43:54", "2020-03-01 17:03:52"),
    ("other/4", 1191, 395, 3, "2020-03-01 16:59:53", "2020-03-01 17:20:49"),
    ("other/5", 1155, 410, 2, "2020-02-08 16:06:48", "2020-02-08 16:26:56"),
    ("other/6", 1147, 402, 4, "2020-02-08 16:27:09", "2020-02-08 16:47:09"),
    ("other/7", 1090, 347, 4, "2020-02-08 16:47:11", "2020-02-08 17:06:12"),
    ("other/8", 1147, 403, 4, "2020-02-08 17:07:11", "2020-02-08 17:27:13"),
    ("other/9", 1144, 401, 4, "2020-02-08 17:27:19", "2020-02-08 17:47:18"),
    ("other/10", 1327, 586, 4, "2020-02-08 17:47:44", "2020-02-08 18:11:02"),
    ("other/11", 1190, 451, 4, "2020-02-08 18:10:42", "2020-02-08 18:31:36"),
    ("other/12", 1048, 309, 4, "2020-02-08 18:34:51", "2020-02-08 18:54:54"),
    ("other/13", 923, 265, 4, "2020-02-08 18:47:32", "2020-02-08 19:06:26"),
    ("other/14", 905, 302, 3, "2020-02-08 19:16:28", "2020-02-08 19:32:19"),
    ("valve1/0", 1147, 401, 4, "2020-03-09 10:14:33", "2020-03-09 10:34:32"),
    ("valve1/1", 1145, 402, 4, "2020-03-09 10:34:33", "2020-03-09 10:54:33"),
    ("valve1/2", 1075, 337, 3, "2020-03-09 10:54:34", "2020-03-09 11:14:33"),
    ("valve1/3", 1148, 404, 4, "2020-03-09 11:14:34", "2020-03-09 11:34:35"),
    ("valve1/4", 1095, 349, 4, "2020-03-09 11:34:36", "2020-03-09 11:54:35"),
    ("valve1/5", 1154, 403, 4, "2020-03-09 11:54:36", "2020-03-09 12:14:35"),
    ("valve1/6", 1154, 405, 4, "2020-03-09 12:14:36", "2020-03-09 12:34:35"),
    ("valve1/7", 1094, 405, 4, "2020-03-09 12:34:37", "2020-03-09 12:54:37"),
    ("valve1/8", 1144, 400, 4, "2020-03-09 12:54:39", "2020-03-09 13:14:37"),
    ("valve1/9", 1148, 402, 4, "2020-03-09 13:14:38", "2020-03-09 13:34:38"),
    ("valve1/10", 1146, 401, 4, "2020-03-09 13:34:39", "2020-03-09 13:54:38"),
    ("valve1/11", 1141, 399, 4, "2020-03-09 13:54:39", "2020-03-09 14:14:39"),
    ("valve1/12", 1140, 399, 4, "2020-03-09 14:14:40", "2020-03-09 14:34:40"),
    ("valve1/13", 1140, 399, 4, "2020-03-09 14:34:41", "2020-03-09 14:54:40"),
    ("valve1/14", 1139, 399, 4, "2020-03-09 14:54:41", "2020-03-09 15:14:40"),
    ("valve1/15", 1150, 404, 4, "2020-03-09 15:14:41", "2020-03-09 15:34:41"),
    ("valve2/0", 1125, 394, 4, "2020-03-09 15:56:30", "2020-03-09 16:16:29"),
    ("valve2/1", 1063, 333, 4, "2020-03-09 16:16:30", "2020-03-09 16:36:30"),
    ("valve2/2", 1129, 395, 4, "2020-03-09 16:36:31", "2020-03-09 16:56:30"),
    ("valve2/3", 995, 395, 4, "2020-03-09 16:56:31", "2020-03-09 17:14:09"),
]


@pytest.fixture(scope="module")
def skab(dataset_path):
    return load_skab(dataset_path("skab").parent)


@pytest.mark.needs_data
def test_totals_match_manifest(skab):
    assert len(skab.files) == 34
    assert sum(len(f.frame) for f in skab.files) == 37401
    assert sum(int(f.frame["changepoint"].sum()) for f in skab.files) == 129
    assert skab.anomaly_free.shape == (9405, 8) and list(skab.anomaly_free.columns) == list(SENSORS)
    assert str(skab.anomaly_free.index[0]) == "2020-02-08 13:30:47+00:00"


@pytest.mark.needs_data
def test_every_file_matches_manifest(skab):
    found = {f.name: f.frame for f in skab.files}
    assert sorted(found) == sorted(row[0] for row in MANIFEST)
    for name, rows, anomalies, changepoints, first, last in MANIFEST:
        frame = found[name]
        assert (len(frame), int(frame["anomaly"].sum()), int(frame["changepoint"].sum())) == (
            rows,
            anomalies,
            changepoints,
        ), name
        assert frame.index[0] == pd.Timestamp(first, tz="UTC") and frame.index[-1] == pd.Timestamp(last, tz="UTC")


@pytest.mark.needs_data
def test_columns_index_and_dtypes(skab):
    frame = skab.file("valve1/0").frame
    assert list(frame.columns) == [*SENSORS, *LABELS] and skab.SENSORS == SENSORS
    assert str(frame.index.dtype) == "datetime64[us, UTC]" and frame.index.name == "datetime"
    assert all(str(frame[c].dtype) == "float64" for c in SENSORS)
    assert all(str(frame[c].dtype) == "int64" for c in LABELS)
    # first data row of valve1/0.csv
    assert frame.iloc[0][["Accelerometer1RMS", "Volume Flow RateRMS"]].tolist() == [0.0265878, 32.0]
    with pytest.raises(DataNotFoundError, match="valve9/0"):
        skab.file("valve9/0")


@pytest.mark.needs_data
def test_standard_split_first_400_rows(skab):
    n_train = n_test = 0
    for item in skab.files:
        train, test = split(item)
        assert len(train) == 400 and len(train) + len(test) == len(item.frame)
        assert train.index.equals(item.frame.index[:400]) and test.index.equals(item.frame.index[400:])
        assert train.index.max() <= test.index.min()
        n_train, n_test = n_train + len(train), n_test + len(test)
    assert (n_train, n_test) == (34 * 400, 37401 - 34 * 400)


def test_split_rejects_too_large_n_train():
    frame = pd.DataFrame({"Current": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="n_train=2"):
        split(SKABFile("x/0", frame), n_train=2)


# ---------------------------------------------------------------- bad or missing files

HEADER = ";".join(("datetime", *SENSORS))


def _rows(n, labels=True):
    out = []
    for i in range(n):
        row = f"2020-03-09 10:14:{i:02d};" + ";".join(["1.5"] * 8)
        out.append(row + (f";{float(i >= 2)};{float(i == 2)}" if labels else ""))
    return out


def _write(root, labelled_rows=None, free=True):
    data = root / "skab" / "data"
    (data / "valve1").mkdir(parents=True)
    if free:
        (data / "anomaly-free").mkdir()
        (data / "anomaly-free" / "anomaly-free.csv").write_text("\n".join([HEADER, *_rows(3, False)]) + "\n")
    rows = _rows(4) if labelled_rows is None else labelled_rows
    (data / "valve1" / "0.csv").write_text("\n".join([HEADER + ";anomaly;changepoint", *rows]) + "\n")
    return root


def test_small_valid_layout(tmp_path):
    data = load_skab(_write(tmp_path))
    assert [f.name for f in data.files] == ["valve1/0"] and data.files[0].frame["changepoint"].tolist() == [0, 0, 1, 0]


def test_missing_anomaly_free_and_missing_labelled_files(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"anomaly-free\.csv.*expected layout"):
        load_skab(_write(tmp_path / "a", free=False))
    root = _write(tmp_path / "b")
    (root / "skab" / "data" / "valve1" / "0.csv").unlink()
    with pytest.raises(DataNotFoundError, match="no labelled SKAB files"):
        load_skab(root)


def test_comma_separated_file_is_rejected_at_the_header(tmp_path):
    root = _write(tmp_path)
    path = root / "skab" / "data" / "valve1" / "0.csv"
    path.write_text(path.read_text().replace(";", ","))
    with pytest.raises(SchemaError, match=r"skab/data/valve1/0\.csv, line 1: header is"):
        load_skab(root)


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("2020-03-09 10:15:00;1.5;1.5", "line 6: expected 11 fields, found 3"),
        ("09/03/2020 10:15;" + ";".join(["1.5"] * 8) + ";0.0;0.0", "line 6, column 'datetime': cannot parse"),
        ("2020-03-09 10:15:00;" + ";".join(["1.5"] * 8) + ";0.5;0.0", "line 6, column 'anomaly': value 0.5 is not"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, bad_row, message):
    with pytest.raises(SchemaError, match=message) as info:
        load_skab(_write(tmp_path, labelled_rows=[*_rows(4), bad_row]))
    assert info.value.source == "skab/data/valve1/0.csv"
