"""forewarn quality spc|inspect (train on NEU: test_neu.py, slow)."""

import datetime as dt
import json

import numpy as np
import pytest
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


def _texture_pngs(folder, n, seed, streak=False):
    """``n`` 48-px PNGs of a blurred-noise surface (the same grain for every seed), a bright streak with ``streak``."""
    from PIL import Image
    from scipy import ndimage

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        surface = 0.5 + 0.1 * ndimage.gaussian_filter(rng.normal(size=(48, 48)), 1.5) / 0.19
        if streak:
            surface[8:40, 20:24] = 0.95
        paths.append(folder / f"unit{i}.png")
        Image.fromarray((surface.clip(0, 1) * 255).astype(np.uint8)).save(paths[-1])
    return paths


def test_train_unsupervised_fits_the_texture_detector_and_inspect_scores_novelty(tmp_path):
    from forewarn.quality.images import decode_many
    from forewarn.quality.texture import TextureDetector

    good = _texture_pngs(tmp_path / "good", 10, seed=0)
    args = ["quality", "train", "--unsupervised", "--good-images", str(tmp_path / "good"), "--out", str(tmp_path / "m")]
    result = CliRunner().invoke(app, [*args, "--texture-size", "48"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["good_images"] == 10 and out["size"] == 48 and (tmp_path / "m" / "texture.npz").is_file()
    fresh = _texture_pngs(tmp_path / "fresh", 3, seed=1)
    bad = _texture_pngs(tmp_path / "bad", 3, seed=2, streak=True)
    result = CliRunner().invoke(
        app, ["quality", "inspect", *map(str, [good[0], *fresh, *bad]), "--model", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    # a good image the detector was fitted on is its own nearest neighbour: distance 0
    assert rows[0] == {"image": str(good[0]), "novelty_score": 0.0, "novel": False, "decision": "pass"}
    # the same scores as the library's detector fitted on the same decoded images
    expected = TextureDetector().fit(decode_many(good, 48)).score(decode_many([*fresh, *bad], 48))
    assert [r["novelty_score"] for r in rows[1:]] == [round(float(s), 6) for s in expected]
    assert [r["novel"] for r in rows[1:]] == [bool(s > 1.0) for s in expected]
    assert all(r["novel"] and r["decision"] == "review" for r in rows[4:])  # the streaks stand out
    assert max(r["novelty_score"] for r in rows[1:4]) < min(r["novelty_score"] for r in rows[4:])


def test_train_unsupervised_refuses_an_empty_or_unreadable_folder(tmp_path):
    base = ["quality", "train", "--unsupervised", "--out", str(tmp_path / "m")]
    result = CliRunner().invoke(app, base)
    assert isinstance(result.exception, ConfigError) and "needs --good-images" in str(result.exception)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    result = CliRunner().invoke(app, [*base, "--good-images", str(tmp_path / "empty")])
    assert isinstance(result.exception, ConfigError) and "holds 0 image(s)" in str(result.exception)
    result = CliRunner().invoke(app, [*base, "--good-images", str(tmp_path / "nowhere")])
    assert isinstance(result.exception, ConfigError) and "is not a folder" in str(result.exception)
    _texture_pngs(tmp_path / "mixed", 2, seed=0)
    (tmp_path / "mixed" / "broken.png").write_bytes(b"not a png")
    result = CliRunner().invoke(app, [*base, "--good-images", str(tmp_path / "mixed")])
    assert isinstance(result.exception, SchemaError) and "broken.png" in str(result.exception)
    assert not (tmp_path / "m" / "texture.npz").exists()
    result = CliRunner().invoke(app, ["quality", "inspect", str(tmp_path / "mixed" / "unit0.png"), "--model",
                                      str(tmp_path / "m")])  # fmt: skip
    assert isinstance(result.exception, ConfigError) and "holds neither a classifier" in str(result.exception)


def test_inspect_adds_novelty_to_the_classifier_and_reviews_novel_passes(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.random((8, 1, 16, 16), dtype=np.float32)
    DefectClassifier(size=16, width=4, epochs=1, seed=0).fit(X, ["good"] * 4 + ["spot"] * 4).save(tmp_path / "m")
    _texture_pngs(tmp_path / "good", 4, seed=0)
    units = [str(p) for p in _texture_pngs(tmp_path / "units", 4, seed=5)]
    args = ["quality", "train", "--unsupervised", "--good-images", str(tmp_path / "good"), "--out", str(tmp_path / "m")]
    assert CliRunner().invoke(app, [*args, "--texture-size", "32"]).exit_code == 0
    inspect = ["quality", "inspect", *units, "--model", str(tmp_path / "m"), "--good-class", "good"]
    # the classifier's costs give reject above 0.8, review above 0.5; --escape 0.1 makes every unit pass
    lenient = CliRunner().invoke(app, [*inspect, "--escape", "0.1", "--novelty-threshold", "1e9"])
    strict = CliRunner().invoke(app, [*inspect, "--escape", "0.1", "--novelty-threshold", "0"])
    assert lenient.exit_code == 0 and strict.exit_code == 0, lenient.output + strict.output
    lenient_rows = [json.loads(line) for line in lenient.output.splitlines()]
    strict_rows = [json.loads(line) for line in strict.output.splitlines()]
    assert {r["decision"] for r in lenient_rows} == {"pass"} and not any(r["novel"] for r in lenient_rows)
    for a, b in zip(lenient_rows, strict_rows, strict=True):
        assert b["novel"] == (b["novelty_score"] > 0) and b["novelty_score"] == a["novelty_score"]
        assert b["decision"] == ("review" if b["novel"] else "pass")
        assert a["probabilities"] == b["probabilities"] and "cam_peak" in b  # the classifier's keys stay
    assert any(r["novel"] for r in strict_rows)
    # the log keeps each unit's score and flag beside its decision
    logged = CliRunner().invoke(app, [*inspect, "--escape", "0.1", "--novelty-threshold", "0", "--queue",
                                      str(tmp_path / "log.duckdb")])  # fmt: skip
    assert logged.exit_code == 0, logged.output
    log = ReviewQueue(tmp_path / "log.duckdb")
    stored = [(r["novelty_score"], r["novel"], r["decision"]) for r in log.inspections()]
    log.close()
    assert stored == [(r["novelty_score"], r["novel"], r["decision"]) for r in strict_rows]
    # the detector alone gives no defect probability: no queue
    only = tmp_path / "only"
    only.mkdir()
    (tmp_path / "m" / "texture.npz").rename(only / "texture.npz")
    result = CliRunner().invoke(app, ["quality", "inspect", units[0], "--model", str(only), "--queue",
                                      str(tmp_path / "q.duckdb")])  # fmt: skip
    assert isinstance(result.exception, ConfigError) and "only a texture detector" in str(result.exception)


def _spc(tmp_path, text, *args):
    csv = tmp_path / "m.csv"
    csv.write_text(text)
    return CliRunner().invoke(app, ["quality", "spc", str(csv), *args])


def test_spc_cells_a_plant_exports_are_named_by_line_not_a_traceback(tmp_path):
    # "n/a" is text to report, not a blank pandas would read as NaN and call an empty cell
    result = _spc(tmp_path, "ts,width\n2026-01-01,1\n2026-01-02,n/a\n2026-01-03,3\n", "--column", "width")
    assert isinstance(result.exception, SchemaError) and "line 3, column 'width': 'n/a' is not a number" in str(
        result.exception
    )
    result = _spc(tmp_path, "ts,width\n2026-01-01,1\n2026-01-02,\n2026-01-03,3\n", "--column", "width")
    assert isinstance(result.exception, SchemaError) and "line 3, column 'width': empty cell" in str(result.exception)
    # a text cell in the sizes column was a ValueError traceback
    result = _spc(tmp_path, "d,n\n2,50\n3,abc\n1,50\n", "--column", "d", "--chart", "p", "--size-column", "n")
    assert isinstance(result.exception, SchemaError) and "line 3, column 'n': 'abc' is not a number" in str(
        result.exception
    )


def test_spc_errors_name_the_users_column_or_option_not_internal_names(tmp_path):
    result = _spc(tmp_path, "width\n5\n", "--column", "width")
    assert isinstance(result.exception, SchemaError)
    assert str(result.exception) == f"{tmp_path / 'm.csv'}, column 'width': needs at least 2 points, got 1"
    constant = "width\n" + "5.0\n" * 12
    for chart in ("ewma", "cusum"):  # was "column 'sigma': sigma must be positive, got 0.0"
        result = _spc(tmp_path, constant, "--column", "width", "--chart", chart)
        assert isinstance(result.exception, SchemaError) and "column 'width'" in str(result.exception)
        assert "do not vary" in str(result.exception)
    result = _spc(tmp_path, constant, "--column", "width", "--lsl", "4", "--usl", "6")  # was column 'data'
    assert "column 'width': the data show no variation" in str(result.exception)
    result = _spc(tmp_path, "d\n1\n2\n", "--column", "d", "--chart", "p")
    assert isinstance(result.exception, ConfigError) and str(result.exception).startswith("--size-column:")
    result = _spc(tmp_path, "w\n1\n2\n3\n", "--column", "w", "--baseline", "9")
    assert isinstance(result.exception, ConfigError) and str(result.exception).startswith("--baseline:")


def test_spc_attribute_charts_refuse_measurements_and_varying_np_sizes(tmp_path):
    # a measurement column charted as counts was a silent wrong chart (p = 10.13 / 50)
    result = _spc(tmp_path, "w,n\n10.13,50\n9.87,50\n10.6,50\n", "--column", "w", "--chart", "p", "--size-column", "n")
    assert isinstance(result.exception, SchemaError) and "whole numbers" in str(result.exception)
    # the np chart read the first size only; sizes that vary are the p chart's
    result = _spc(tmp_path, "d,n\n2,50\n3,60\n1,40\n", "--column", "d", "--chart", "np", "--size-column", "n")
    assert isinstance(result.exception, SchemaError) and "vary from 40 to 60" in str(result.exception)
    # more defectives than units on the np chart was a math domain error
    result = _spc(tmp_path, "d,n\n2,5\n30,5\n1,5\n", "--column", "d", "--chart", "np", "--size-column", "n")
    assert isinstance(result.exception, SchemaError) and "more defectives" in str(result.exception)


def test_spc_casebook_refuses_times_it_cannot_read(tmp_path):
    book = str(tmp_path / "cases.duckdb")
    values = "".join(f"{i},{v}\n" for i, v in enumerate([10, 12, 11, 13, 12, 30]))
    # sample numbers in ts were read as nanoseconds since 1970 and every alert stamped 1970-01-01
    result = _spc(tmp_path, "ts,w\n" + values, "--column", "w", "--baseline", "5", "--casebook", book)
    assert isinstance(result.exception, SchemaError) and "column 'ts': holds numbers, not times" in str(
        result.exception
    )
    text = "ts,w\n2026-01-01,1\nyesterday,2\n2026-01-03,1\n2026-01-04,1\n"
    result = _spc(tmp_path, text, "--column", "w", "--casebook", book)  # was a pandas traceback
    assert isinstance(result.exception, SchemaError) and "line 3, column 'ts': 'yesterday' is not a time" in str(
        result.exception
    )


def test_image_and_queue_errors_are_one_plain_line(tmp_path):
    from forewarn.quality.images import decode

    (tmp_path / "fake.jpg").write_text("not an image")
    with pytest.raises(SchemaError) as err:  # was "cannot identify image file <_io.BufferedReader name=...>"
        decode(tmp_path / "fake.jpg", 32)
    assert str(err.value) == f"{tmp_path / 'fake.jpg'}: not an image pillow can read (give a JPEG or PNG file)"
    with pytest.raises(SchemaError, match="no such file"):
        decode(tmp_path / "none.jpg", 32)
    with pytest.raises(ConfigError, match="cannot open the review queue"):  # was duckdb's IOException traceback
        ReviewQueue(tmp_path / "missing" / "q.duckdb")
