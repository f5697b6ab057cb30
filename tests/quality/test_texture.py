"""quality.texture: the texture vector worked by hand, the nearest-good-image score, bad input, and a small
"defect never seen" case with two kinds of good surface."""

import numpy as np
import pytest

from forewarn.exceptions import NotFittedError, ParameterError, SchemaError
from forewarn.quality.texture import N_GREY, N_TEXTURE, TextureDetector, texture_features


def test_flat_image_has_only_its_grey_level():
    (row,) = texture_features(np.full((1, 1, 20, 20), 0.25))
    assert row.shape == (705,) and texture_features(np.full((1, 20, 20), 0.25), lbp=False).shape == (1, 55)
    # mean, sd, skewness, kurtosis (of the standardised image: all zero), then seven percentiles of 0.25
    assert row[:N_GREY].tolist() == pytest.approx([0.25, 0.0, 0.0, 0.0] + [0.25] * 7)
    assert np.abs(row[N_GREY:N_TEXTURE]).max() < 1e-12  # no texture: every filter response is zero
    # local binary patterns of a flat image: every neighbour equals its centre (sign code 8, all of the pixels),
    # every magnitude equals the mean (code 8) and the centre is not below the mean: per circle, the square roots
    # of shares 1 in sign bin 8, magnitude-and-centre bin 8 * 2 + 1 = 17 and joint bin 8 * 10 + 8 = 88
    circle = np.zeros(130)
    circle[[8, 10 + 17, 30 + 88]] = 1.0
    assert row[N_TEXTURE:].tolist() == pytest.approx(np.tile(circle, 5).tolist())


def test_local_binary_pattern_of_a_stripe_pattern():
    # columns alternate 0, 1: with radius 1 the left and right neighbours differ from the centre, the upper and
    # lower ones equal it, the diagonals (interpolated between columns) lie halfway
    image = np.tile([0.0, 1.0], (20, 10))
    (row,) = texture_features(image[None])
    first = row[N_TEXTURE : N_TEXTURE + 10] ** 2  # sign code shares, radius 1, full resolution
    # a 0 centre: all eight neighbours >= it (uniform, code 8); a 1 centre: only up and down >= it -> two separate
    # runs of ones, four transitions: not uniform (code 9). Half the centres each.
    assert first.tolist() == pytest.approx([0] * 8 + [0.5, 0.5])


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
    good[:, 0] = [0.0, 1.0, 2.0, 3.0]  # mean 1.5, sd sqrt(1.25): standardised spacing 1 / sqrt(1.25)
    good[:, 1] = [1.0, 1.0, 1.0, 1.0]  # every other column constant
    # leave-one-out nearest squared distances of the good images: all 1 / 1.25, so the reference (their 95th
    # percentile) is 1 / 1.25 and a score is the squared distance in units of the good images' spacing
    det = TextureDetector(k=1, lbp=False).fit_features(good)
    query = np.zeros((2, 55))
    query[:, 1] = 1.0
    query[:, 0] = [1.0, 5.0]  # on a good image; 2 above the last good image
    assert det.references_ == pytest.approx([0.8])
    assert det.score_features(query).tolist() == pytest.approx([0.0, 4.0])
    # k = 2: leave-one-out means of the two nearest, in standardised squared units: (0.8 + 3.2) / 2 = 2 at the
    # ends, 0.8 inside; 95th percentile 2. The queries: (0 + 0.8) / 2 and (3.2 + 7.2) / 2, over 2
    two = TextureDetector(k=2, lbp=False).fit_features(good)
    assert two.references_ == pytest.approx([2.0])
    assert two.score_features(query).tolist() == pytest.approx([0.2, 2.6])
    flat = TextureDetector(grey=False, lbp=False).fit_features(good)  # grey columns dropped: column 0 does not count
    assert flat.score_features(query).tolist() == pytest.approx([0.0, 0.0])


def test_both_families_score_the_larger():
    rng = np.random.default_rng(1)
    good = rng.normal(size=(30, 705))
    query = good[:3].copy()
    query[0, :N_TEXTURE] += 8.0  # far out in the texture family only
    query[1, N_TEXTURE:] += 8.0  # in the pattern family only
    both = TextureDetector().fit_features(good)
    texture = TextureDetector(lbp=False).fit_features(good)
    assert both.score_features(query)[2] == 0.0  # a good image itself
    assert both.score_features(query)[0] == pytest.approx(texture.score_features(query)[0])
    assert both.score_features(query)[1] > 1.0 and texture.score_features(query)[1] == pytest.approx(0.0, abs=1e-9)


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
        (lambda: TextureDetector(k=3, lbp=False).fit_features(np.zeros((3, 55))), SchemaError),  # need k + 1
        (lambda: TextureDetector(lbp=False).fit_features(np.zeros((3, 54))), SchemaError),
        (lambda: TextureDetector().fit_features(np.zeros((3, 55))), SchemaError),  # no pattern columns
        (lambda: TextureDetector(lbp=False).fit_features(np.full((3, 55), np.inf)), SchemaError),
        (lambda: TextureDetector().score_features(np.zeros((3, 705))), NotFittedError),
    ],
)
def test_bad_input_is_a_clear_error(make, error):
    with pytest.raises(error):
        make()
