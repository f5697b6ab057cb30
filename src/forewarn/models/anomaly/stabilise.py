"""A variance-stabilising transform per channel, chosen from the training rows (``stabilise``, an option of the
ensemble).

Many metric series are not additive: a count's spread grows as the square root of its rate (Poisson), a positive
level's spread in proportion to it (log-normal, multiplicative noise). Scored as they are, their quiet hours look
like a collapse of variance and their busy hours like a new variance, although both are normal. :func:`choose`
reads how a channel's spread follows its level in the training rows: non-overlapping blocks of :data:`BLOCK`
rows, each with its mean ``m`` and the standard deviation ``s`` of its first differences (the noise, not the
level's own motion inside the block); where the channel never goes below 0 and the blocks'
levels span at least a factor :data:`MIN_RANGE` (10th to 90th percentile), the slope ``b`` of ``log s`` against
``log m`` (a least-squares line) picks a power: ``b`` near 1 -> ``log`` (power 0), near 1/2 -> square root
(power 1/2), near 0 -> nothing (power 1); the boundaries are at :data:`LOG_SLOPE` and :data:`SQRT_SLOPE`. Channels
that go negative, whose level hardly moves, or with too few blocks (:data:`MIN_BLOCKS`) are left as they are, so a
temperature around 300 K or a centred signal is never transformed.

:func:`apply` maps values: power 1/2 -> ``sign(x) sqrt(|x|)``; power 0 -> ``log(max(x, 0) + c)``, ``c`` a
hundredth of the training median (a value at or below 0, impossible in training, lands far below the rest).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> level = np.exp(np.sin(np.arange(3000) / 200.0) * 1.5 + 3)          # a level that moves 20-fold
>>> x = np.c_[level * np.exp(rng.normal(0, 0.2, 3000)), rng.poisson(level / 4), level + rng.normal(0, 1, 3000)]
>>> fit = choose(x)
>>> fit[:, 0].tolist()                                                 # log, square root, as it is
[0.0, 0.5, 1.0]
>>> bool(np.all(apply(fit, x)[:, 2] == x[:, 2]))
True
"""

from __future__ import annotations

import numpy as np

#: rows per block whose mean and spread are compared
BLOCK = 32
#: blocks needed to read the relation (fewer: the channel is left as it is)
MIN_BLOCKS = 8
#: the blocks' levels must span at least this factor (10th to 90th percentile)
MIN_RANGE = 1.25
#: slopes of log spread on log level at or above this: log
LOG_SLOPE = 0.75
#: ... at or above this (and below LOG_SLOPE): square root
SQRT_SLOPE = 0.3
#: log's offset, as a share of the training median
OFFSET = 0.01


def identity(n_channels: int) -> np.ndarray:
    """The fit that changes nothing: power 1, offset 0 for every channel."""
    return np.column_stack([np.ones(n_channels), np.zeros(n_channels)])


def slope(values: np.ndarray, block: int = BLOCK) -> float:
    """The slope of the blocks' log spread on their log level (NaN where it cannot be read: negative values, too
    few blocks with a positive level and spread, levels that span less than :data:`MIN_RANGE`)."""
    x = np.asarray(values, dtype="float64")
    x = x[np.isfinite(x)]
    n_blocks = len(x) // block
    if n_blocks < MIN_BLOCKS or x.min() < 0:
        return float("nan")
    blocks = x[: n_blocks * block].reshape(n_blocks, block)
    m, s = blocks.mean(axis=1), np.diff(blocks, axis=1).std(axis=1)  # differences: a block's own trend left out
    keep = (m > 0) & (s > 0)
    if keep.sum() < MIN_BLOCKS:
        return float("nan")
    lm, ls = np.log(m[keep]), np.log(s[keep])
    low, high = np.percentile(lm, [10, 90])
    if high - low < np.log(MIN_RANGE):
        return float("nan")
    return float(np.polyfit(lm, ls, 1)[0])


def choose(values: np.ndarray) -> np.ndarray:
    """Per channel ``[power, offset]`` (module text)."""
    out = identity(values.shape[1])
    for j in range(values.shape[1]):
        b = slope(values[:, j])
        if not np.isfinite(b) or b < SQRT_SLOPE:
            continue
        if b >= LOG_SLOPE:
            median = float(np.nanmedian(values[:, j]))
            out[j] = (0.0, max(OFFSET * median, 1e-9))
        else:
            out[j] = (0.5, 0.0)
    return out


def apply(fit: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` through each channel's transform (the array itself when every channel keeps power 1)."""
    if np.all(fit[:, 0] == 1.0):
        return values
    out = np.array(values, dtype="float64", copy=True)
    for j, (power, offset) in enumerate(fit):
        if power == 0.5:
            out[:, j] = np.sign(out[:, j]) * np.sqrt(np.abs(out[:, j]))
        elif power == 0.0:
            with np.errstate(invalid="ignore"):
                out[:, j] = np.log(np.maximum(out[:, j], 0.0) + offset)
    return out
