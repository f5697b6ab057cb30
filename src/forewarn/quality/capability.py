"""Process capability: Cp, Cpk (within-subgroup sigma) and Pp, Ppk (overall sigma).

Estimators as in Montgomery, *Introduction to Statistical Quality Control* (6th ed., chapter 8) and the AIAG
SPC manual: the within sigma is R-bar/d2 for subgroups (rows of equal size) or MR-bar/d2(2) = MR-bar/1.128 for
individuals; the overall sigma is the sample standard deviation of all observations (n - 1 in the divisor).

* Cp = (USL - LSL) / (6 sigma_within), Cpk = min(USL - mean, mean - LSL) / (3 sigma_within);
* Pp and Ppk: the same with sigma_overall.

With one specification limit only, Cp and Pp are undefined (``None``) and Cpk/Ppk use the given side.

>>> out = capability([[9, 10, 11], [10, 11, 12]], lsl=4, usl=16)
>>> out["cp"], out["cpk"], round(out["pp"], 4)
(1.693, 1.5519, 1.9069)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forewarn.exceptions import SchemaError
from forewarn.quality import constants as K


def capability(
    data: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
    *,
    lsl: float | None = None,
    usl: float | None = None,
) -> dict[str, float | None]:
    """Cp, Cpk, Pp, Ppk, the mean and both sigmas for ``data`` (1-D individuals or 2-D subgroups).

    Figures are rounded to 4 decimals (they are reported, not computed with further).
    """
    values = np.asarray(data, dtype=float)
    if values.ndim not in (1, 2) or values.size < 2 or not np.all(np.isfinite(values)):
        raise SchemaError("capability needs at least 2 finite observations (1-D or subgroups x n)", column="data")
    if lsl is None and usl is None:
        raise SchemaError("give at least one specification limit (lsl, usl)", column="lsl/usl")
    if lsl is not None and usl is not None and not lsl < usl:
        raise SchemaError(f"lsl {lsl} must be below usl {usl}", column="lsl/usl")
    if values.ndim == 2:
        within = float(np.ptp(values, axis=1).mean() / K.d2(values.shape[1]))
    else:
        within = float(np.abs(np.diff(values)).mean() / K.d2(2))
    overall = float(values.std(ddof=1))
    mean = float(values.mean())
    if within <= 0 or overall <= 0:
        raise SchemaError("the data show no variation: capability is undefined", column="data")

    def indices(sigma: float) -> tuple[float | None, float]:
        spread = None if lsl is None or usl is None else (usl - lsl) / (6 * sigma)
        sides = [(usl - mean) if usl is not None else np.inf, (mean - lsl) if lsl is not None else np.inf]
        return spread, float(min(sides) / (3 * sigma))

    cp, cpk = indices(within)
    pp, ppk = indices(overall)

    def r(v: float | None) -> float | None:
        return None if v is None else round(float(v), 4)

    return {
        "mean": r(mean),
        "sigma_within": r(within),
        "sigma_overall": r(overall),
        "cp": r(cp),
        "cpk": r(cpk),
        "pp": r(pp),
        "ppk": r(ppk),
    }
