"""Splits by asset and by time: no group crosses a split, no window crosses a time cut."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.evaluate.splits import group_holdout, group_kfold, time_cut
from forewarn.exceptions import SchemaError

group_lists = st.lists(st.integers(min_value=0, max_value=12), min_size=6, max_size=200).filter(
    lambda g: len(set(g)) >= 3
)


@settings(max_examples=60)
@given(group_lists, st.integers(min_value=0, max_value=10_000))
def test_kfold_keeps_groups_whole_and_covers_every_row_once(groups, seed):
    groups = np.asarray(groups)
    seen = np.zeros(len(groups), dtype=int)
    for train, test in group_kfold(groups, n_splits=3, seed=seed):
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
        seen[test] += 1
    assert (seen == 1).all()


@settings(max_examples=60)
@given(group_lists, st.floats(min_value=0.1, max_value=0.9), st.integers(min_value=0, max_value=100))
def test_holdout_keeps_groups_whole(groups, fraction, seed):
    groups = np.asarray(groups)
    train, test = group_holdout(groups, test_fraction=fraction, seed=seed)
    assert not set(groups[train]) & set(groups[test])
    assert len(train) and len(test) and len(train) + len(test) == len(groups)


def test_seeded_and_different_seeds_differ():
    groups = np.repeat(np.arange(40), 5)
    a = [t.tolist() for _, t in group_kfold(groups, 4, seed=1)]
    assert a == [t.tolist() for _, t in group_kfold(groups, 4, seed=1)]
    assert a != [t.tolist() for _, t in group_kfold(groups, 4, seed=2)]
    assert group_holdout(groups, seed=3)[1].tolist() == group_holdout(groups, seed=3)[1].tolist()


@settings(max_examples=60)
@given(
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    st.floats(min_value=0.1, max_value=0.9),
    st.integers(min_value=1, max_value=8),
    st.randoms(),
)
def test_time_cut_no_window_crosses(lengths, fraction, window, rnd):
    frame = pd.concat([pd.DataFrame({"unit": u, "t": np.arange(n)}) for u, n in enumerate(lengths)], ignore_index=True)
    frame = frame.iloc[rnd.sample(range(len(frame)), len(frame))].reset_index(drop=True)  # any row order
    train, test = time_cut(frame["unit"], frame["t"], fraction, window=window)
    assert not set(train) & set(test)
    for _unit, rows in frame.groupby("unit"):
        n = len(rows)
        train_t = set(frame.loc[np.intersect1d(train, rows.index), "t"])
        test_t = set(frame.loc[np.intersect1d(test, rows.index), "t"])
        if train_t and test_t:
            assert max(train_t) < min(test_t)
        for t in test_t:  # the trailing window of every test row lies wholly after the cut
            assert not set(range(t - window + 1, t + 1)) & train_t
        assert len(train_t) == int(np.ceil(fraction * n))


def test_bad_arguments():
    with pytest.raises(SchemaError, match="n_splits"):
        list(group_kfold([1, 2, 3], n_splits=5))
    with pytest.raises(SchemaError, match="test_fraction"):
        group_holdout([1, 2, 3], test_fraction=1.5)
    with pytest.raises(SchemaError, match="order has"):
        time_cut([1, 1], [0])
