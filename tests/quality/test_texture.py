"""quality.texture: the texture vector worked by hand, the nearest-good-image score, bad input, and a small
"defect never seen" case with two kinds of good surface."""

import numpy as np
import pytest

from forewarn.exceptions import NotFittedError, ParameterError, SchemaError
from forewarn.quality.texture import N_GREY, TextureDetector, texture_features


def test_flat_image_has_only_its_grey_level():
    (row,) = texture_features(np.full((1, 1, 20, 20), 0.25))
    assert row.shape == (55,)
    # mean, sd, skewness, kurtosis (of the standardised image: all zero), then seven percentiles of 0.25
    assert row[:N_GREY].tolist() == pytest.approx([0.25, 0.0, 0.0, 0.0] + [0.25] * 7)
    assert np.abs(row[N_GREY:]).max() < 1e-12  # no texture: every filter response is zero


def test_two_level_image_grey_statistics():
    image = np.zeros((20, 20))
    image[:, 10:] = 1.0  # half black, half white: mean 0.5, sd 0.5, skewness 0, kurtosis 1
    (row,) = texture_features(image[None])
    assert row[:4].tolist() == pytest.approx([0.5, 0.5, 0.0, 1.0])
    assert row[4:N_GREY].tolist() == pytest.approx([0, 0, 0, 0.5, 1, 1, 1])
    # the edge is vertical: the derivative across columns (order (0, 1)) responds, the one across rows does not
    assert row[N_GREY] > 0.05 and row[N_GREY + 2] < 1e-12


def test_nearest_good_image_distance_by_hand():
    good = np.zeros((4, 55))
    good[:, 0] = [0.0, 1.0, 2.0, 3.0]  # mean 1.5, sd sqrt(1.25); every other column constant
    good[:, 1] = [1.0, 1.0, 1.0, 1.0]
    det = TextureDetector(k=1).fit_features(good)
    query = np.zeros((2, 55))
    query[:, 1] = 1.0
    query[:, 0] = [1.0, 5.0]  # on a good image; 2 above the last good image
    assert det.score_features(query).tolist() == pytest.approx([0.0, 4.0 / 1.25])
    two = TextureDetector(k=2).fit_features(good)  # mean of the two nearest squared distances
    assert two.score_features(query).tolist() == pytest.approx([0.5 / 1.25, (4.0 + 9.0) / 2 / 1.25])
    flat = TextureDetector(grey=False).fit_features(good)  # the grey columns dropped: column 0 does not count
    assert flat.score_features(query).tolist() == pytest.approx([0.0, 0.0])


def _surface(rng, kind, n):
    out = []
    for _ in range(n):
        if kind == "grain":  # fine noise
            image = 0.5 + 0.1 * rng.standard_normal((48, 48))
        elif kind == "blotch":  # coarse blobs: noise upsampled 8 x
            image = 0.4 + 0.1 * np.kron(rng.standard_normal((6, 6)), np.ones((8, 8)))
        else:  # streaks: columns of one value each
            image = 0.5 + 0.1 * np.tile(rng.standard_normal(48), (48, 1))
        out.append(np.clip(image, 0, 1))
    return np.stack(out)[:, None]


def test_unseen_texture_scores_above_both_seen_kinds():
    rng = np.random.default_rng(0)
    grain, blotch, streak = (_surface(rng, kind, 14) for kind in ("grain", "blotch", "streak"))
    det = TextureDetector().fit(np.concatenate([grain[:10], blotch[:10]]))
    held_out_good = det.score(np.concatenate([grain[10:], blotch[10:]]))
    never_seen = det.score(streak)
    assert never_seen.min() > held_out_good.max()


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: texture_features(np.zeros((2, 3, 20, 20))), SchemaError),  # colour
        (lambda: texture_features(np.zeros((2, 8, 8))), SchemaError),  # too small
        (lambda: texture_features(np.full((1, 20, 20), np.nan)), SchemaError),
        (lambda: texture_features(np.zeros((0, 20, 20))), SchemaError),
        (lambda: TextureDetector(k=0).fit_features(np.zeros((3, 55))), ParameterError),
        (lambda: TextureDetector(k=True).fit_features(np.zeros((3, 55))), ParameterError),
        (lambda: TextureDetector(k=5).fit_features(np.zeros((3, 55))), SchemaError),  # fewer images than k
        (lambda: TextureDetector().fit_features(np.zeros((3, 54))), SchemaError),
        (lambda: TextureDetector().score_features(np.zeros((3, 55))), NotFittedError),
    ],
)
def test_bad_input_is_a_clear_error(make, error):
    with pytest.raises(error):
        make()
