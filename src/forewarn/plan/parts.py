"""Spare parts: intermittent-demand forecasts (Croston, SBA), reorder point and safety stock, a stock replay.

Croston (1972) smooths the size of the non-zero demands ``z`` and the interval between them ``p`` separately,
each with the factor ``alpha``, updating only in periods with demand; the forecast per period is ``z / p``.
Syntetos and Boylan's approximation (SBA, 2005) multiplies it by ``1 - alpha / 2`` to remove Croston's bias.
Both start from the first non-zero demand and the periods up to it.

For a part, the demand over the lead time adds three sources: the baseline forecast (historical consumption,
per period, times the lead time), the predicted failures of assets that use it (the sum of their failure
probabilities within the lead time, variance ``sum p (1 - p)``) and the planned jobs that need it (certain).
The safety stock for a cycle service level is ``z x sigma_L`` (``z`` the normal quantile, ``sigma_L`` the
lead-time standard deviation: the baseline's one-step forecast error times the square root of the lead time,
combined with the failures' variance), and the reorder point is the mean lead-time demand plus it.

The same forecaster serves product demand from order history (:func:`croston` on daily orders).

>>> f = croston([0, 0, 3, 0, 0, 0, 3, 0, 0, 3], alpha=0.1)
>>> round(f.forecast, 4), round(croston([0, 0, 3, 0, 0, 0, 3, 0, 0, 3], alpha=0.1, method="sba").forecast, 4)
(0.9709, 0.9223)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError

__all__ = ["Forecast", "ReorderPolicy", "croston", "reorder_policy", "replay_stock"]


@dataclass(frozen=True)
class Forecast:
    """Demand per period (``forecast``), the smoothed size and interval, and the one-step error's std."""

    forecast: float
    size: float
    interval: float
    error_std: float
    method: str


def croston(demand: Sequence[float] | np.ndarray, alpha: float = 0.1, method: str = "croston") -> Forecast:
    """Croston's or SBA's forecast of an intermittent demand series (one value per period, >= 0)."""
    y = np.asarray(demand, dtype=float)
    if y.ndim != 1 or y.size == 0:
        raise ConfigError("demand: expected a non-empty series of numbers, one per period")
    if not np.isfinite(y).all() or (y < 0).any():
        raise ConfigError(
            f"demand: values must be finite and >= 0 (first bad at period {int(np.argmax(~np.isfinite(y) | (y < 0)))})"
        )
    if not 0.0 < alpha <= 1.0:
        raise ConfigError(f"alpha={alpha}: must be in (0, 1]")
    if method not in ("croston", "sba"):
        raise ConfigError(f"method {method!r}: use 'croston' or 'sba'")
    factor = 1.0 - alpha / 2.0 if method == "sba" else 1.0
    nz = np.flatnonzero(y > 0)
    if nz.size == 0:
        return Forecast(0.0, 0.0, float(y.size), 0.0, method)
    z, p = y[nz[0]], float(nz[0] + 1)
    since = 0
    errors = []
    for t in range(nz[0] + 1, y.size):
        errors.append(y[t] - factor * z / p)
        since += 1
        if y[t] > 0:
            z += alpha * (y[t] - z)
            p += alpha * (since - p)
            since = 0
    err = float(np.sqrt(np.mean(np.square(errors)))) if errors else float(np.std(y))
    return Forecast(float(factor * z / p), float(z), float(p), err, method)


@dataclass(frozen=True)
class ReorderPolicy:
    """Mean and std of the lead-time demand, the safety stock and the reorder point (units)."""

    part: str
    lead_time: int
    mean_demand: float
    std_demand: float
    safety_stock: float
    reorder_point: float
    service_level: float


def reorder_policy(
    part: str,
    history: Sequence[float] | np.ndarray,
    lead_time: int,
    service_level: float = 0.95,
    failure_probabilities: Sequence[float] | np.ndarray = (),
    planned_jobs: int = 0,
    alpha: float = 0.1,
) -> ReorderPolicy:
    """Reorder point and safety stock for ``part`` (see the module docstring).

    >>> r = reorder_policy("seal", [0, 1, 0, 0, 1, 0, 0, 0, 1, 0], lead_time=4, failure_probabilities=[0.5, 0.2])
    >>> round(r.mean_demand, 3), round(r.reorder_point, 3)
    (2.359, 4.247)
    """
    if lead_time < 0:
        raise ConfigError(f"lead_time={lead_time} for part {part!r}: must be >= 0 periods")
    if not 0.5 <= service_level < 1.0:
        raise ConfigError(f"service_level={service_level}: expected a probability in [0.5, 1)")
    base = croston(history, alpha=alpha, method="sba")
    p = np.clip(np.asarray(failure_probabilities, dtype=float), 0.0, 1.0)
    mean = base.forecast * lead_time + float(p.sum()) + planned_jobs
    var = base.error_std**2 * lead_time + float((p * (1 - p)).sum())
    std = float(np.sqrt(var))
    safety = NormalDist().inv_cdf(service_level) * std
    return ReorderPolicy(part, lead_time, mean, std, safety, mean + safety, service_level)


def replay_stock(
    demand: Sequence[int] | np.ndarray,
    reorder_point: float,
    order_qty: int,
    lead_time: int,
    on_hand: int,
    holding_cost: float = 0.0,
) -> dict[str, float]:
    """Replay an (s, Q) policy over a demand series: order ``order_qty`` when the stock position (on hand plus on
    order) falls to ``reorder_point`` or below; orders arrive ``lead_time`` periods later. Returns units short
    (``stockouts``), periods with a shortage, orders placed, the mean stock and ``holding_cost`` x stock-periods.

    >>> replay_stock([1, 1, 1, 1, 1], reorder_point=1, order_qty=2, lead_time=2, on_hand=2)
    {'stockouts': 0.0, 'short_periods': 0.0, 'orders': 3.0, 'mean_stock': 0.6, 'holding_cost': 0.0}
    """
    if order_qty < 1 or lead_time < 0 or on_hand < 0:
        raise ConfigError("replay_stock: order_qty >= 1, lead_time >= 0 and on_hand >= 0 are required")
    stock = float(on_hand)
    pipeline: list[tuple[int, float]] = []  # (arrival period, qty)
    short = short_periods = orders = 0.0
    stock_sum = 0.0
    for t, d in enumerate(np.asarray(demand, dtype=float)):
        stock += sum(q for at, q in pipeline if at == t)
        pipeline = [(at, q) for at, q in pipeline if at > t]
        use = min(stock, d)
        if d > use:
            short += d - use
            short_periods += 1
        stock -= use
        if stock + sum(q for _, q in pipeline) <= reorder_point:
            pipeline.append((t + lead_time + (1 if lead_time == 0 else 0), float(order_qty)))
            orders += 1
        stock_sum += stock
    n = max(len(demand), 1)
    return {
        "stockouts": short,
        "short_periods": short_periods,
        "orders": orders,
        "mean_stock": float(stock_sum / n),
        "holding_cost": float(holding_cost * stock_sum),
    }


def replay_backorders(
    demand_days: Sequence[int] | np.ndarray,
    reorder_point: float,
    order_qty: int,
    lead_time: int,
    on_hand: int,
    days: int,
    holding_cost: float = 0.0,
) -> dict[str, Any]:
    """Replay an (s, Q) policy where a demand that finds the shelf empty waits for the next arrival (a backorder:
    the repair needing the part is delayed), one unit per entry of ``demand_days`` (the day each is needed).

    The stock position (on hand plus on order, less backorders) is checked after each day's demands; at or below
    ``reorder_point`` an order of ``order_qty`` is placed that arrives ``lead_time`` days later (at the start of
    that day: a backorder is filled then, oldest first). Returns each demand's ``waits`` (days, in the order given),
    ``stockouts`` (demands that waited), ``orders``, ``holding_cost`` (x unit-days on the shelf at day ends) and
    ``mean_stock`` over ``days``.

    Two on the shelf, two needed on day 0 and two on day 1: the shelf empties on day 0 (an order, due day 3); the
    day-1 demands wait, the position (0 + 2 on order - 2 waiting) is again at the reorder point (a second order,
    due day 4); the first order fills both backorders on day 3, 2 days late each, and the second is left on the shelf:

    >>> r = replay_backorders([0, 0, 1, 1], reorder_point=0, order_qty=2, lead_time=3, on_hand=2, days=6)
    >>> r["waits"], r["stockouts"], r["orders"], round(r["mean_stock"], 3)
    ([0, 0, 2, 2], 2, 2, 0.667)
    """
    if order_qty < 1 or lead_time < 0 or on_hand < 0 or days < 1:
        raise ConfigError("replay_backorders: order_qty >= 1, lead_time >= 0, on_hand >= 0 and days >= 1 are required")
    when = np.asarray(demand_days, dtype=np.int64)
    if when.size and (when.min() < 0 or when.max() >= days):
        raise ConfigError(f"replay_backorders: demand days must lie in 0..{days - 1}")
    order = np.argsort(when, kind="stable")
    waits = [0] * when.size
    stock, orders, unit_days = int(on_hand), 0, 0.0
    arrivals: list[int] = []  # arrival day of each outstanding unit
    waiting: list[tuple[int, int]] = []  # (demand index, day needed)
    k = 0
    for day in range(days):
        stock += sum(1 for a in arrivals if a == day)
        arrivals = [a for a in arrivals if a != day]
        while waiting and stock > 0:  # backorders first, oldest first
            index, needed = waiting.pop(0)
            waits[index] = day - needed
            stock -= 1
        while k < when.size and when[order[k]] == day:
            if stock > 0:
                stock -= 1
            else:
                waiting.append((int(order[k]), day))
            k += 1
        if stock + len(arrivals) - len(waiting) <= reorder_point:
            arrivals += [day + max(lead_time, 1)] * order_qty
            orders += 1
        unit_days += stock
    for index, needed in waiting:  # still waiting when the period ends
        waits[index] = days - needed
    return {
        "waits": waits,
        "stockouts": int(sum(1 for w in waits if w > 0)),
        "orders": orders,
        "holding_cost": float(holding_cost * unit_days),
        "mean_stock": float(unit_days / days),
    }
