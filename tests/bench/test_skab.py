"""The SKAB runner on a couple of files (the full benchmark runs from the command line)."""

import numpy as np
import pytest

from forewarn.bench import skab
from forewarn.bench.skab import MODELS, ON_DELAY, alarm_edges, is_seeded, run
from forewarn.exceptions import ConfigError

pytestmark = pytest.mark.needs_data


def test_runner_contract_on_two_files(shared_data_dir):
    payload = run(["var-residual", "pca-t2q"], 2, shared_data_dir, files=["valve1/0", "other/9"])
    assert payload["dataset"] == "skab" and payload["primary_metric"] == "f1" and payload["subset"] is None
    assert payload["files"] == ["valve1/0", "other/9"]
    assert "400 rows" in payload["protocol"]
    assert {row["method"] for row in payload["published"]} >= {"Conv-AE", "MSET"}
    by_model = {row["model"]: row for row in payload["results"]}
    assert list(by_model) == ["var-residual", "var-residual" + ON_DELAY, "pca-t2q", "pca-t2q" + ON_DELAY]
    assert "11 consecutive rows" in payload["protocol"]
    for row in by_model.values():
        assert row["seeds"] == 1  # deterministic models run once whatever seeds says
        assert 0.0 <= row["f1"] <= 1.0 and 0.0 <= row["far"] <= 100.0 and 0.0 <= row["mar"] <= 100.0
        for profile in ("nab_standard", "nab_low_fp", "nab_low_fn", "nab_sigmoid_standard"):
            assert row[profile] <= 100.0
        assert row["fit_s"] > 0 and row["predict_s"] > 0
    assert by_model["var-residual"]["f1"] > 0.5  # both faults are visible to it
    for name in ("var-residual", "pca-t2q"):
        immediate, delayed = by_model[name], by_model[name + ON_DELAY]
        # the on-delay only ever removes alarm rows: fewer false alarms, at least as many misses
        assert delayed["far"] <= immediate["far"] and delayed["mar"] >= immediate["mar"]
        assert delayed["fit_s"] == immediate["fit_s"]  # same fit, same scores


def test_progress_is_reported_and_options_are_checked(shared_data_dir):
    messages = []
    run(["knn"], 1, shared_data_dir, files=["valve2/1"], progress=messages.append)
    assert any("valve2/1" in m for m in messages)
    with pytest.raises(ConfigError, match="unknown SKAB model"):
        run(["nope"], 1, shared_data_dir)
    with pytest.raises(ConfigError, match="option"):
        run(["knn"], 1, shared_data_dir, subset="FD001")


def test_zoo_and_seeding():
    assert {"var-residual", "pca-t2q", "knn", "mset", "isolation-forest", "autoencoder", "conv-ae"} == set(MODELS)
    assert is_seeded(MODELS["autoencoder"]) and is_seeded(MODELS["isolation-forest"]) and is_seeded(MODELS["conv-ae"])
    assert not is_seeded(MODELS["var-residual"])
    assert skab.SMOOTH == 10


def test_alarm_edges_mark_switches():
    assert alarm_edges(np.array([0, 1, 1, 0])).tolist() == [False, True, False, True]
    assert alarm_edges(np.array([], dtype=bool)).tolist() == []


def test_the_detect_path_counts_alarm_episodes(shared_data_dir):
    from forewarn.bench.skab import DETECT

    payload = run([DETECT, "var-residual"], 1, shared_data_dir, files=["valve1/0", "other/9"])
    by_model = {row["model"]: row for row in payload["results"]}
    row = by_model[DETECT]
    assert row["seeds"] == 1 and row["predict_s"] > 0 and 0.0 <= row["far"] <= 100.0
    assert row["f1"] > 0.3  # the faults fall inside alarm episodes
    assert DETECT in payload["protocol"]
