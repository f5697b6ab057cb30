"""Long series (issue 14): the embedding member's references grown with the history scored (``expand_references``)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from forewarn.models.anomaly import embedding
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.expand import calm_rows, expanded


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def wandering(n: int, seed: int = 0) -> np.ndarray:
    """Two AR(1) channels; from row 500 the first sits 2 units higher (a level the first 400 rows never saw)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 2))
    shocks = rng.normal(size=(n, 2))
    for t in range(1, n):
        x[t] = 0.6 * x[t - 1] + shocks[t]
    x[500:, 0] += 2.0
    return x


def test_rows_before_the_first_doubling_score_as_fitted_and_the_option_is_off_by_default():
    x = wandering(1600)
    plain = EnsembleDetector().fit(x[:400])
    grown = EnsembleDetector(expand_references=True).fit(x[:400])
    assert EnsembleDetector().expand_references is False
    a, b = plain.member_scores(x), grown.member_scores(x)
    assert np.array_equal(a.iloc[:800].to_numpy(), b.iloc[:800].to_numpy(), equal_nan=True)
    assert not np.allclose(a["embedding"].iloc[800:], b["embedding"].iloc[800:])
    assert np.array_equal(
        a.drop(columns="embedding").to_numpy(), b.drop(columns="embedding").to_numpy(), equal_nan=True
    )


def test_a_level_seen_calmly_after_the_fit_is_judged_against_it_later():
    x = wandering(3200)
    plain = EnsembleDetector().fit(x[:400]).member_scores(x)["embedding"].to_numpy()
    grown = EnsembleDetector(expand_references=True).fit(x[:400]).member_scores(x)["embedding"].to_numpy()
    # from row 1,600 (the second doubling) the references hold the new level: the member runs far cooler there
    assert np.median(grown[1600:]) < np.median(plain[1600:]) - 1.0
    assert (grown[1600:] >= 5.0).mean() < 0.5 * (plain[1600:] >= 5.0).mean()


def test_what_was_flagged_stays_out_of_the_references_and_a_new_fault_still_alarms():
    x = wandering(3200, seed=1)
    x[1000:1200, 1] += 8.0  # a fault flagged before the doubling at 1,600 ...
    x[2500:2700, 1] += 8.0  # ... comes back after it: still far from every reference
    x[2900:3000, 0] += 9.0  # and a new one, never seen
    grown = EnsembleDetector(expand_references=True).fit(x[:400]).member_scores(x)["embedding"].to_numpy()
    assert np.median(grown[2540:2700]) > 10.0
    assert np.median(grown[2940:3000]) > 10.0


def test_expanded_grows_the_references_and_leaves_hot_rows_out():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(1300, 1))
    state = embedding.fit(z[:300], (4, 16), 32)
    hot = np.zeros(1300, dtype=bool)
    hot[700:720] = True
    seen: list[dict[str, np.ndarray]] = []
    original = embedding.score

    def spy(s: dict[str, np.ndarray], rows: np.ndarray, windows: tuple[int, ...]) -> np.ndarray:
        seen.append(s)
        return original(s, rows, windows)

    embedding.score = spy
    try:
        out = expanded(state, z, (4, 16), 300, hot, 32)
    finally:
        embedding.score = original
    assert out.shape == (1300,)
    counts = [len(s["index"]) for s in seen]
    assert counts == [32, 64, 128]  # the fit's, then twice and four times as many at 600 and 1,200 rows
    for s in seen[1:]:
        assert not np.any((s["index"] >= 700 - 16) & (s["index"] < 720 + 16))
    assert calm_rows(np.array([True, False, False, False]), 1).tolist() == [2, 3]


def test_bad_value_is_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="expand_references"):
        EnsembleDetector(expand_references="yes").fit(np.zeros((50, 1)))


def test_a_fit_with_several_operating_regimes_keeps_its_references():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2400, 3))
    running = (np.arange(2400) // 40) % 2 == 0  # a machine that starts and stops every 40 rows
    x[~running] = x[~running] * 0.05 - 20.0
    plain = EnsembleDetector().fit(x[:400])
    assert len(plain.regime_centroids_) > 1
    a = plain.member_scores(x)["embedding"].to_numpy()
    b = EnsembleDetector(expand_references=True).fit(x[:400]).member_scores(x)["embedding"].to_numpy()
    assert np.array_equal(a, b, equal_nan=True)
