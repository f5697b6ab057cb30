"""forewarn quality spc|inspect (train on NEU: test_neu.py, slow)."""

import datetime as dt
import json

import numpy as np
from typer.testing import CliRunner

from forewarn.cli.main import app
from forewarn.decide.cases import CaseBook
from forewarn.exceptions import ConfigError, SchemaError
from forewarn.quality.review import ReviewQueue
from forewarn.quality.vision import DefectClassifier


def test_spc_prints_limits_and_files_rule_hits_as_cases(tmp_path):
    csv = tmp_path / "m.csv"
    values = [10, 12, 11, 13, 12, 30]
    times = [f"2024-05-01T0{i}:00:00Z" for i in range(6)]
    csv.write_text("ts,width\n" + "".join(f"{t},{v}\n" for t, v in zip(times, values, strict=True)))
    book = tmp_path / "cases.duckdb"
    args = ["quality", "spc", str(csv), "--column", "width", "--baseline", "5", "--casebook", str(book)]
    result = CliRunner().invoke(app, [*args, "--asset", "line-3", "--usl", "20", "--lsl", "5"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["charts"][0]["beyond_limits"] == [5] and out["capability"]["cp"] is not None
    cases = CaseBook(book)
    (alert,) = cases.alerts(asset_id="line-3")
    # the point beyond the limits is the 6th measurement, stamped 05:00 UTC
    assert alert["model_id"] == "spc-imr" and alert["source"] == "spc" and alert["risk_level"] == "critical"
    assert alert["ts"].astimezone(dt.UTC).hour == 5
    cases.close()


def test_spc_bad_input_is_one_clear_line(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("width\n1\nabc\n3\n")
    result = CliRunner().invoke(app, ["quality", "spc", str(csv), "--column", "width"])
    # the CLI's run() prints a ForewarnError as one line; here the error itself is checked
    assert isinstance(result.exception, SchemaError) and "line 3, column 'width'" in str(result.exception)
    result = CliRunner().invoke(app, ["quality", "spc", str(csv), "--column", "nope"])
    assert isinstance(result.exception, SchemaError) and "no column 'nope'" in str(result.exception)


def test_inspect_decides_and_logs_into_the_review_queue(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    X = rng.random((8, 1, 16, 16), dtype=np.float32)
    model = DefectClassifier(size=16, width=4, epochs=1, seed=0).fit(X, ["good"] * 4 + ["spot"] * 4)
    model.save(tmp_path / "m")
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"u{i}.png")
        Image.fromarray((rng.random((30, 30)) * 255).astype(np.uint8)).save(paths[-1])
    queue = tmp_path / "q.duckdb"
    args = ["quality", "inspect", *map(str, paths), "--model", str(tmp_path / "m"), "--good-class", "good"]
    result = CliRunner().invoke(app, [*args, "--queue", str(queue), "--line", "L2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    proba = model.predict_proba(np.stack([np.asarray(Image.open(p).convert("L").resize((16, 16), Image.Resampling.BOX),
                                                     np.float32)[None] / 255 for p in paths]))  # fmt: skip
    for row, p in zip(rows, proba, strict=True):
        assert row["defect_probability"] == round(float(p[1]), 6)  # 1 - P(good)
        expected = "reject" if p[1] > 0.8 else "review" if p[1] > 0.5 else "pass"
        assert row["decision"] == expected
    logged = ReviewQueue(queue).inspections()
    assert [r["decision"] for r in logged] == [r["decision"] for r in rows] and {r["line"] for r in logged} == {"L2"}


def test_train_refuses_a_missing_review_queue_before_reading_images(tmp_path):
    """``--reviews`` takes a DuckDB file or a PostgreSQL URL (a URL is a string, not a file to check): a missing
    file is refused by name before any image is read (no data folder is given here)."""
    missing = tmp_path / "reviews.duckdb"
    args = ["quality", "train", "--out", str(tmp_path / "m"), "--reviews", str(missing)]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path / "no-data")])
    assert isinstance(result.exception, ConfigError), result.output
    assert "reviews.duckdb" in str(result.exception) and "does not exist" in str(result.exception)


def test_inspect_reports_the_localisation_heads_peak(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    X = rng.random((8, 1, 16, 16), dtype=np.float32)
    masks = np.zeros((8, 16, 16), np.float32)
    masks[4:, 8:, :4] = 1.0
    model = DefectClassifier(size=16, width=4, epochs=1, loc_weight=1.0, seed=0)
    model.fit(X, ["good"] * 4 + ["spot"] * 4, masks=masks).save(tmp_path / "m")
    path = tmp_path / "u.png"
    Image.fromarray((rng.random((16, 16)) * 255).astype(np.uint8)).save(path)
    result = CliRunner().invoke(app, ["quality", "inspect", str(path), "--model", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.output.splitlines()]
    image = np.asarray(Image.open(path).convert("L"), np.float32)[None, None] / 255
    spot = divmod(int(model.locate(image)[0].argmax()), 16)
    assert row["defect_peak"] == {"row": spot[0] / 16, "col": spot[1] / 16}
