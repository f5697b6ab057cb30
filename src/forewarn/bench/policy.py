"""Closed loop on the twin: what a maintenance policy is worth (``forewarn bench policy``).

For each seed one fleet is drawn (sites, assets, parameters, hourly regime, initial condition: the same draws
as :func:`forewarn.twin.fleet.build_fleet`) and the degradation engine runs it for the period under each policy,
from the same engine seed:

- ``run_to_failure``: repair after failure (lubrication rounds on the site's calendar, as under every policy);
- ``time_based``: a visit every *T* days that inspects and repairs what it finds; *T* is tuned on a separate
  history (other seeds, :data:`INTERVALS`), never on the fleet it is scored on;
- ``condition_based``: the twin's daily threshold look (:mod:`forewarn.twin.maintenance`, ``DETECT_THRESHOLD``);
- ``predictive``: Forewarn's loop: a failure model made as a plant makes one, ``forewarn train`` on a store of
  separate simulated run-to-failure histories (their sensor readings and failure and maintenance events; labels
  from the events, the one window kernel, calibration on held-out assets: :mod:`forewarn.bench.policy_model`),
  scored each evening on the readings the loop has observed so far (vibration RMS, bearing, winding and ambient
  temperatures, oil condition, and the seal leak that pumps and compressors report, with the twin's sensor noise:
  never the hidden damage) exactly as ``forewarn score`` scores a store; each asset's calibrated probability of failing within the bundle's horizon becomes a
  risk curve, and the planner (:func:`forewarn.plan.plan_maintenance`) books inspection visits under each site's
  crew hours; the jobs for the next day are committed (a rolling horizon), and a visited asset is not booked
  again for :data:`COOLDOWN_DAYS`. The rule (:data:`DECISION`, a :class:`Decision`) plans only for assets above a
  probability (the bundle's own: the one a set share of a calibration history's asset-evenings exceeds,
  :func:`flag_bar`), and keeps a long time-based inspection under the predictive visits (a backstop whose clock each
  predictive visit restarts, each inspection pulled forward onto the asset's cheapest evening of the production
  calendar, :class:`_FreeWindow`);
- ``oracle``: sees the true damage, its growth and the winding's margin to its trip temperature, and books the
  exact repair for the next day when a failure would come within 4 days (no crew limit). It is a strong
  reference, not a strict bound: sudden cooling losses strike without warning, and its growth extrapolation
  is linear.

Per policy: failures, unplanned downtime hours (scheduled hours lost to failures, from
:mod:`forewarn.twin.production`), maintenance cost (labour and parts of planned and corrective work),
parts cost, stock-outs (each policy's (s, Q) stock per part, sized with SBA for a 95 % service level from the
parts that policy used on the separate histories; in the loop by default (:class:`_Stock`): a breakdown repair
whose part is not on the shelf waits for the next unit due, and the machine stays down meanwhile; a planned job
short of a part is expedited, a stock-out; :data:`STOCK_MODES`), downtime cost, total cost, OEE and energy per good
unit (:mod:`forewarn.kpi`).
Random streams: every policy starts from the same engine seed, but a policy that acts differently draws
differently afterwards (repair durations, residuals), so the fleets diverge after the first differing action.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.bench.policy_model import BundleScorer, Observer, SealLeakMeter, train_bundle
from forewarn.exceptions import ConfigError
from forewarn.kpi import oee
from forewarn.plan import AssetRisk, PlanProblem, plan_maintenance
from forewarn.plan.parts import reorder_policy, replay_backorders
from forewarn.train.spec import RENEWING_ACTIONS
from forewarn.twin.assets import CLASS_MODES, INNER, INSULATION, MODES, OUTER, OVERHEATING, SEAL
from forewarn.twin.degradation import POLICY_CODES, Policy
from forewarn.twin.engine import run_plan
from forewarn.twin.fleet import FleetConfig, build_fleet, draw_fleet
from forewarn.twin.maintenance import ACTIONS, BIT, MODE_BITS, PARTS, REPAIR_HOURS, actions_of
from forewarn.twin.production import production_data

__all__ = ["COSTS", "MODELS", "POLICIES", "Costs", "run", "run_policies"]

POLICIES = ("run_to_failure", "time_based", "condition_based", "predictive", "oracle")
MODELS = POLICIES
#: time-based intervals tried on the separate history (days)
INTERVALS = (30, 45, 60, 90, 120, 180, 270)
HORIZON_DAYS = 14
COOLDOWN_DAYS = 21
#: an asset whose probability of failing within the horizon is below this is not planned for
MIN_PROBABILITY = 0.02
HISTORY_SEED = 1000
#: the time-based sensitivity's free window (days): each visit pulled forward onto the calendar's cheapest evening
CALENDAR_DAYS = 7
#: the hour of the day planned jobs start (the twin returns a machine to service at the end of the day its work
#: ends, so a job that ends before midnight costs only the evening)
START_HOUR = 18.0


@dataclass(frozen=True)
class Costs:
    """Money (one currency) per event; parts prices per part of :data:`forewarn.twin.maintenance.PARTS`."""

    downtime_h: float = 400.0  # lost production per scheduled hour stopped
    visit_labour: float = 600.0  # a planned visit or inspection
    failure_labour: float = 2500.0  # call-out, diagnosis and collateral of a breakdown, beyond the parts
    oil_change: float = 60.0
    light_action: float = 150.0  # balance, align, clean cooling (labour inside the visit)
    stockout: float = 2500.0  # expediting a part that was not on the shelf
    holding_per_part_day: float = 1.0
    parts: tuple[tuple[str, float], ...] = (
        ("bearing", 900.0),
        ("mechanical seal", 700.0),
        ("stator winding", 7000.0),
        ("impeller", 1800.0),
    )
    lead_days: tuple[tuple[str, int], ...] = (
        ("bearing", 7),
        ("mechanical seal", 10),
        ("stator winding", 28),
        ("impeller", 14),
    )


COSTS = Costs()


def _part(action: str) -> str | None:
    name = PARTS.get(action)
    if name is None or action == "oil_change":
        return None
    return "bearing" if name.startswith("bearing") else name


@dataclass
class _Fleet:
    config: FleetConfig
    params: Any
    regime: Any
    state: Any
    applicable: np.ndarray
    profiles: list[Any]
    site_of: np.ndarray
    assets: list[Any]
    classes: list[str]
    sites: list[Any]
    lines: list[Any]


def _draw(config: FleetConfig) -> _Fleet:
    """The fleet's draws before the engine runs: :func:`~forewarn.twin.fleet.draw_fleet`, as build_fleet draws them."""
    d = draw_fleet(config)
    # the asset records (ids, lines) come from the twin itself, with one day simulated
    small = build_fleet(config, days=1, interval="1h")
    return _Fleet(
        config,
        d.params,
        d.regime,
        d.state,
        d.applicable,
        d.profiles,
        d.site_of,
        small.assets,
        list(d.classes),
        small.sites,
        small.lines,
    )


def _policy(f: _Fleet, code: str, interval_days: float | np.ndarray | None = None) -> Policy:
    """The engine's policy arrays; ``interval_days``: the time-based interval, one for all or one per asset."""
    n = f.site_of.size
    rng = np.random.default_rng([f.config.seed, 77])
    oil = np.array([f.profiles[s].oil_interval_days * 24.0 for s in f.site_of])
    pm = np.full(n, np.inf) if interval_days is None else np.broadcast_to(np.asarray(interval_days) * 24.0, n).copy()
    phase = rng.uniform(0.0, 1.0, n)
    return Policy(
        code=np.full(n, POLICY_CODES[code]),
        pm_interval_h=pm,
        oil_interval_h=oil,
        quality=np.array([f.profiles[s].maintenance_quality for s in f.site_of]),
        # visits fall due at 18:00 (a 6 h job ends before midnight, when the engine returns the machine)
        next_pm_h=np.floor(phase * pm / 24.0) * 24.0 + START_HOUR if interval_days is not None else np.full(n, np.inf),
        next_oil_h=rng.uniform(0.0, 1.0, n) * oil,
        planned_h=np.full(n, np.inf),
        planned_mask=np.zeros(n, np.int64),
    )


#: how the bench treats spare parts: ``loop``: a breakdown repair needs its part in the run itself (the machine stays
#: down until the part comes, :class:`_Stock`); ``replay``: the run as if every part were on the shelf, the stock
#: replayed afterwards and a breakdown's wait added to its stop (:func:`_stock_waits`); ``none``: every part on hand
STOCK_MODES = ("loop", "replay", "none")


class _Shelf:
    """One part's (s, Q) stock with backorders, day by day, in the loop: the earliest units on order are promised to
    the demands waiting, oldest first (:func:`~forewarn.plan.parts.replay_backorders`'s rules, decided when each
    demand comes).

    One on the shelf, s = 0, Q = 1, lead 7 days: the first demand (day 0) takes it and orders one (due day 7); a
    second demand on day 1 waits for that unit and orders another (due day 8); a third on day 2 waits for day 8:

    >>> shelf = _Shelf(0.0, 1, 7, on_hand=1)
    >>> [shelf.take(0), shelf.take(1), shelf.take(2)], shelf.stockouts
    ([None, 7, 8], 2)
    >>> shelf.receive(7); shelf.receive(8); shelf.stock, shelf.waiting, shelf.outstanding
    (0, 0, [9])
    """

    def __init__(self, reorder_point: float, order_qty: int, lead_days: int, *, on_hand: int) -> None:
        self.reorder_point, self.order_qty, self.lead = float(reorder_point), int(order_qty), max(int(lead_days), 1)
        self.stock, self.waiting, self.stockouts, self.orders = int(on_hand), 0, 0, 0
        self.outstanding: list[int] = []  # arrival day of each unit on order, earliest first

    def _reorder(self, day: int) -> None:
        while self.stock + len(self.outstanding) - self.waiting <= self.reorder_point or (
            len(self.outstanding) < self.waiting
        ):
            self.outstanding += [day + self.lead] * self.order_qty
            self.orders += 1

    def receive(self, day: int) -> None:
        """Units due by ``day`` arrive: each fills the oldest backorder, else goes on the shelf."""
        arrived = sum(1 for d in self.outstanding if d <= day)
        self.outstanding = self.outstanding[arrived:]
        filled = min(arrived, self.waiting)
        self.waiting -= filled
        self.stock += arrived - filled

    def take(self, day: int) -> int | None:
        """One unit needed on ``day``: ``None`` when the shelf had it, else the day the unit promised to it arrives."""
        if self.stock > 0:
            self.stock -= 1
            self._reorder(day)
            return None
        self.waiting += 1
        self.stockouts += 1
        self._reorder(day)
        return self.outstanding[self.waiting - 1]


class _Stock:
    """Spare parts in the loop (a daily hook run before the policy's): each evening the parts due arrive, and each stop
    that began today takes the parts its work needs (one per action of :data:`~forewarn.twin.maintenance.PARTS`,
    lubricant aside). A breakdown repair short of a part waits for it: its stop is extended to the part's arrival
    (the start of that day) plus the repair's own duration, so the machine neither runs nor fails meanwhile and the
    policies see it down. A planned job short of a part takes the next unit due but is not delayed (the part is
    expedited: a stock-out, charged :attr:`Costs.stockout`). Holding cost: units on the shelf at each day's end."""

    def __init__(self, stock: dict[str, tuple[float, int]]) -> None:
        lead = dict(COSTS.lead_days)
        self.shelves = {
            part: _Shelf(rop, qty, lead[part], on_hand=int(np.ceil(rop)) + qty) for part, (rop, qty) in stock.items()
        }
        self.seen: set[tuple[int, int]] = set()
        self.extended: dict[tuple[int, int], int] = {}  # (asset, stop start) -> new end minute
        self.unit_days = 0.0
        self.waits: list[tuple[int, str, int]] = []  # (asset, part, days the breakdown repair waited)

    @property
    def stockouts(self) -> int:
        return sum(s.stockouts for s in self.shelves.values())

    @property
    def holding_cost(self) -> float:
        return self.unit_days * COSTS.holding_per_part_day

    def __call__(
        self, h: int, st: Any, pol: Any, down: dict[str, np.ndarray], failed: Any, rec: dict[str, np.ndarray]
    ) -> None:
        day = h // 24 - 1
        for shelf in self.shelves.values():
            shelf.receive(day)
        began = np.flatnonzero((down["start"] >= 60 * (h - 24)) & (down["start"] < 60 * h) & (down["until"] > 0))
        for a in began:
            key = (int(a), int(down["start"][a]))
            if key in self.seen:
                continue
            self.seen.add(key)
            corrective = str(down["note"][a]).startswith("repair after")
            needed = [p for p in (_part(x) for x in actions_of(int(down["mask"][a]))) if p is not None]
            due = {p: self.shelves[p].take(day) for p in needed}
            late = {p: d for p, d in due.items() if d is not None}
            if not corrective or not late:
                continue
            length = int(down["until"][a] - down["start"][a])
            until = max(late.values()) * 1440 + length
            self.waits.append((int(a), ",".join(sorted(late)), max(late.values()) - day))
            if down["kind"][a] == 0:  # the repair ended today: the machine was restored, but waits for the part
                down["kind"][a], down["mask"][a] = 1, 0
            down["until"][a] = until
            self.extended[key] = until
        self.unit_days += sum(s.stock for s in self.shelves.values())

    def apply(self, plan: Any) -> Any:
        """``plan`` with the log's breakdown stops ending when the part came (the run itself already saw it)."""
        if not self.extended:
            return plan
        downtime = [(a, b, self.extended.get((a, b), e), k) if k == 1 else (a, b, e, k) for a, b, e, k in plan.downtime]
        return dataclasses.replace(plan, downtime=downtime)


def _chain(*hooks: Callable[..., None] | None) -> Callable[..., None] | None:
    live = [x for x in hooks if x is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]

    def daily(*args: Any) -> None:
        for hook in live:
            hook(*args)

    return daily


@dataclass
class _Outcome:
    policy: str
    plan: Any
    jobs: int
    hook: Any = None
    stock: _Stock | None = None


def _simulate(
    f: _Fleet,
    name: str,
    *,
    interval: float | None = None,
    model: Any = None,
    decision: Decision | None = None,
    stock: dict[str, tuple[float, int]] | None = None,
    class_days: dict[str, float] | None = None,
    free_window: int = 0,
) -> _Outcome:
    """One policy's run; ``stock``: parts in the loop (:class:`_Stock`), else every part on the shelf;
    ``class_days``: each asset class's time-based interval tuned on the history (:func:`class_intervals`), which a
    decision's ``class_backstop`` scales into the predictive policy's backstop; ``free_window``: time-based visits
    moved onto the calendar's free windows up to that many days early (:class:`_FreeWindow`; the predictive policy
    takes its decision's ``free_window_days``)."""
    rng = np.random.default_rng([f.config.seed, 1])
    daily: Callable[..., None] | None = None
    interval_days: float | np.ndarray | None = interval
    jobs = [0]
    if name == "predictive":
        daily = _Predictive(f, model, jobs, decision)
        dec = daily.decision
        if dec.class_backstop is not None:
            if not class_days or not set(f.classes) <= set(class_days):
                raise ConfigError(
                    "a per-class backstop needs each asset class's interval tuned on the history (class_days); "
                    f"got {sorted(class_days or {})} for classes {sorted(set(f.classes))}"
                )
            interval_days = np.array([class_days[c] * dec.class_backstop for c in f.classes])
        elif dec.backstop_days is not None:
            interval_days = dec.backstop_days
            if dec.busy_backstop_days is not None:  # an asset with no free evening in its first week: its own
                week = f.regime.scheduled[:, : 7 * 24].reshape(f.site_of.size, 7, 24)[:, :, int(START_HOUR) :]
                busy = (week.sum(axis=2) > 0).all(axis=1)
                interval_days = np.where(busy, dec.busy_backstop_days, dec.backstop_days)
    elif name == "oracle":
        daily = _Oracle(f, jobs)
    keeper = _Stock(stock) if stock is not None else None
    if name == "predictive" and decision is not None and decision.free_window_days > 0:
        free_window = decision.free_window_days
    window = _FreeWindow(f.regime.scheduled, free_window) if free_window > 0 and interval_days is not None else None
    code = {"time_based": "time_based", "condition_based": "condition_based", "run_to_failure": "run_to_failure"}.get(
        name, "none"
    )
    plan = run_plan(
        f.params,
        f.state,
        f.regime,
        _policy(f, code, interval_days),
        f.applicable,
        rng,
        daily=_chain(keeper, daily, window),
        scale=f.config.degradation_scale,
    )
    if keeper is not None:
        plan = keeper.apply(plan)
    return _Outcome(name, plan, jobs[0], daily, keeper)


@dataclass(frozen=True)
class Decision:
    """How the predictive policy turns the bundle's calibrated probabilities into visits.

    ``min_probability``: an asset below it is not planned for; ``cooldown_days``: a visited asset is not booked
    again that soon; ``crew_hours``: per site and day; ``backstop_days``: a long time-based inspection interval kept
    under the predictive visits (``None``: none), each predictive visit restarting the asset's backstop clock;
    ``failure_cost``: what the planner is told a breakdown costs beyond its downtime hours; ``since_renewal``: score
    an asset only from the readings after its last renewal (a part replaced, a repair after failure), as ``forewarn
    score`` does; ``calendar``: tell the planner each asset's own calendar (an evening it is not scheduled to run is a
    free window: a job there stops no production), so a visit the risk allows to wait is deferred to it;
    ``class_backstop``: instead of one ``backstop_days`` for all, each asset's backstop is this multiple of its
    class's own time-based interval tuned on the history fleets (:func:`class_intervals`): reliability-centred
    maintenance's mix, condition-based visits from the model's flags on top of time-based inspections set from each
    class's own failure history; ``free_window_days``: each backstop visit pulled forward by up to that many days onto
    the asset's cheapest evening in the production calendar (:class:`_FreeWindow`; 0: off);
    ``busy_backstop_days``: the backstop of an asset that runs every evening of its first week (no free window for a
    visit), in place of ``backstop_days`` (``None``: the same for all); ``flag_share``: instead of ``min_probability``,
    the bar is the bundle's own probability that this share of asset-evenings exceeds on a separate calibration
    history run to failure and scored as the loop scores (:func:`flag_bar`), so how often the policy flags does not
    hinge on one training draw's calibration (``None``: ``min_probability``).
    """

    min_probability: float = MIN_PROBABILITY
    cooldown_days: int = COOLDOWN_DAYS
    crew_hours: float = 12.0
    backstop_days: float | None = None
    failure_cost: float = COSTS.failure_labour + 1000.0
    since_renewal: bool = False
    calendar: bool = False
    class_backstop: float | None = None
    free_window_days: int = 0
    busy_backstop_days: float | None = None
    flag_share: float | None = None


#: the predictive policy's rule in ``forewarn bench policy``, chosen on validation fleets (seeds 2000-2007) before the
#: test seeds ran (``benchmarks/policy_decisions.py``; BENCHMARKS.md, issue 16): plan for an asset only when the
#: bundle's probability of failing within its 42 days exceeds the bar that 7.5 % of the asset-evenings of a separate
#: calibration history exceed (:func:`flag_bar`; until 2026-12-05 a fixed 30 %, which that share matched for the
#: bundle the rule was tuned with: another training seed of the same recipe flagged 14 % of the evenings at 30 % and
#: its policy kept 19 % of the oracle's saving on the validation fleets instead of 75 %), keep a 180-day time-based
#: inspection under the predictive visits, each predictive visit restarting its clock, each inspection pulled forward
#: by up to 7 days onto the asset's cheapest evening in the production calendar (so a shorter backstop pays), and
#: score an asset from the readings since its last renewal, as ``forewarn score`` does
DECISION = Decision(backstop_days=180.0, since_renewal=True, free_window_days=7, flag_share=0.075)


#: the calibration history of :func:`flag_bar` (a fleet of its own: neither the training histories nor a scored one)
CALIBRATION_SEED = HISTORY_SEED + 2
CALIBRATION = FleetConfig(sites=4, assets=100, days=365, seed=CALIBRATION_SEED, interval="1h")


def flag_bar(model: Any, share: float, *, since_renewal: bool, config: FleetConfig | None = None) -> float:
    """The probability above which ``share`` of the asset-evenings of a calibration history lie: the fleet ``config``
    (the loop passes the scored fleet's settings with seed :data:`CALIBRATION_SEED`; default :data:`CALIBRATION`, 100
    assets, 4 sites, a year, as the bench's fleets) run to failure while the bundle is scored each evening as the
    predictive policy scores it, acting on nothing. Kept on the model per setting (one simulated run each).

    The bar is the quantile ``1 - share`` of those evenings' probabilities: with four asset-evenings at 0, 0.1, 0.2
    and 0.3 and a share of 25 %, one lies above it:

    >>> round(float(np.quantile(np.array([0.0, 0.1, 0.2, 0.3]), 1.0 - 0.25)), 3)
    0.225
    """
    if not 0.0 < share < 1.0:
        raise ConfigError(f"flag_share must be between 0 and 1, got {share}")
    config = config or CALIBRATION
    key = (float(share), bool(since_renewal), config)
    bars: dict[Any, float] = model.__dict__.setdefault("flag_bars", {})
    if key not in bars:
        watch = Decision(min_probability=2.0, since_renewal=since_renewal)  # scores, never plans
        hook = _simulate(_draw(config), "predictive", model=model, decision=watch).hook
        bars[key] = float(np.quantile(np.asarray(hook.log), 1.0 - share))
    return bars[key]


class _FreeWindow:
    """Time-based visits moved onto the calendar's free windows (a daily hook): a visit due within ``days`` days is
    pulled forward, never back, to the evening of that span whose stop costs the least production: the fewest
    scheduled hours from :data:`START_HOUR` to midnight, then the fewest the next day (a visit that finds a part to
    replace runs into it), the latest such evening on a tie. A plant books its preventive work into its own calendar
    (weekends, evenings off, planned line stops); the visit's clock restarts from the day it is done.

    An asset that runs weekdays 06:00-22:00 and stops at weekends: a visit due on a Wednesday (day 9) is moved to
    the Saturday before it (day 5: evening and Sunday free); one due on day 3 has no free evening before it in reach:

    >>> week = np.array([16, 16, 16, 16, 16, 0, 0] * 2, float)  # Monday first
    >>> hours = np.repeat(week / 16.0, 24).reshape(1, -1)
    >>> hours[:, (np.arange(hours.shape[1]) % 24 < 6) | (np.arange(hours.shape[1]) % 24 >= 22)] = 0.0
    >>> w = _FreeWindow(hours, 7)
    >>> w.best(0, first=1, due=9), w.best(0, first=1, due=3)
    (5, 3)
    """

    def __init__(self, scheduled: np.ndarray, days: int) -> None:
        n = scheduled.shape[0]
        whole = scheduled.shape[1] // 24
        daily = scheduled[:, : whole * 24].reshape(n, whole, 24)
        self.evening = daily[:, :, int(START_HOUR) :].sum(axis=2)
        self.next_day = np.concatenate([daily[:, 1:].sum(axis=2), np.zeros((n, 1))], axis=1)
        self.days = int(days)

    def best(self, a: int, first: int, due: int) -> int:
        """The calendar day (from ``first``, at most ``days`` before ``due``) whose evening to start the visit."""
        lo, hi = max(first, due - self.days), min(due, self.evening.shape[1] - 1)
        if hi < lo:
            return due
        span = np.arange(lo, hi + 1)
        order = np.lexsort((-span, self.next_day[a, span], self.evening[a, span]))
        return int(span[order[0]])

    def __call__(
        self, h: int, st: Any, pol: Any, down: dict[str, np.ndarray], failed: Any, rec: dict[str, np.ndarray]
    ) -> None:
        first = h // 24  # tomorrow, the first day a visit can be moved to
        due = np.floor(pol.next_pm_h / 24.0)
        for a in np.flatnonzero(np.isfinite(pol.next_pm_h) & (due >= first) & (due <= first + self.days)):
            day = self.best(int(a), first, int(due[a]))
            if day < due[a]:
                pol.next_pm_h[a] = day * 24.0 + START_HOUR


class _Predictive:
    def __init__(self, f: _Fleet, model: Any, jobs: list[int], decision: Decision | None = None) -> None:
        self.f, self.jobs = f, jobs
        self.decision = decision or Decision()
        # the plant's sensors (read once an hour, as the history was) and the bundle scored on them each evening
        running_only = bool(getattr(model, "running_only", False))
        self.observer = Observer(f.regime.ambient, seed=f.config.seed + 5, running_only=running_only)
        self.leak = SealLeakMeter(f.params, f.regime.load, f.classes, f.state.damage[:, SEAL])
        self.score = BundleScorer(model, [a.asset_id for a in f.assets], f.config.start, classes=list(f.classes))
        self.horizon_days = max(1, int(round(float(model.spec.horizon) / 24.0)))
        self.last_visit = np.full(f.site_of.size, -1e9)
        mean_fail = {c: float(np.mean([REPAIR_HOURS[MODES.index(m)] for m in CLASS_MODES[c]])) for c in set(f.classes)}
        self.fail_h = np.array([mean_fail[c] for c in f.classes])
        # scheduled hours an evening job costs (START_HOUR to midnight), from the asset's usual week
        sched = f.regime.scheduled[:, : 7 * 24].reshape(f.site_of.size, 7, 24)
        self.evening = sched[:, :, int(START_HOUR) :].sum(axis=2).mean(axis=1)
        # each calendar day's scheduled evening hours, and an evening's hours when the asset runs then
        whole = f.regime.scheduled.shape[1] // 24
        self.evenings = f.regime.scheduled[:, : whole * 24].reshape(f.site_of.size, whole, 24)[:, :, int(START_HOUR) :]
        self.evenings = self.evenings.sum(axis=2)
        busy = self.evenings > 0
        self.working_evening = np.where(
            busy.any(axis=1), (self.evenings * busy).sum(axis=1) / np.maximum(busy.sum(axis=1), 1), 0.0
        )
        self.log: list[np.ndarray] = []  # each evening's probabilities (diagnostics)
        self.renewed = np.full(f.site_of.size, np.nan)  # hour of each asset's last renewal
        self.renewing = sum(BIT[a] for a in ACTIONS if a.startswith(RENEWING_ACTIONS))
        dec = self.decision
        self.bar = dec.min_probability
        if dec.flag_share is not None:
            # the calibration fleet is drawn like the fleet scored (size, period, degradation scale), from its own seed
            calibration = dataclasses.replace(f.config, seed=CALIBRATION_SEED)
            self.bar = flag_bar(model, dec.flag_share, since_renewal=dec.since_renewal, config=calibration)

    def __call__(
        self, h: int, st: Any, pol: Any, down: dict[str, np.ndarray], failed: Any, rec: dict[str, np.ndarray]
    ) -> None:
        self.observer.observe(self.leak.day(rec, st.damage, h), h - 24, h)
        # work that ended today (the engine returns a machine at the end of the day its work ends): a repair after a
        # failure or a part replaced renews the asset
        ended = (down["kind"] == 0) & (down["until"] > 60 * (h - 24)) & (down["until"] <= 60 * h)
        corrective = np.array([str(note).startswith("repair after") for note in down["note"]])
        renew = ended & (corrective | ((down["mask"] & self.renewing) > 0))
        self.renewed[renew] = down["until"][renew] / 60.0
        if h < 7 * 24:
            return
        dec = self.decision
        p = np.clip(self.score(self.observer, h, self.renewed if dec.since_renewal else None), 0.0, 0.999)
        self.log.append(p)
        free = (down["kind"] == 0) & ~np.isfinite(pol.planned_h) & (h - self.last_visit > dec.cooldown_days * 24)
        days = np.arange(1, HORIZON_DAYS + 1)
        risk = []
        stops: dict[str, list[int]] = {}
        first = h // 24  # the calendar day of the plan's day 0 (tomorrow)
        for a in np.flatnonzero(free & (p > self.bar)):
            cdf = 1.0 - (1.0 - p[a]) ** (days / HORIZON_DAYS)
            line = f"S{self.f.site_of[a]}"
            job_down = float(self.evening[a])
            if dec.calendar:  # the asset is its own line, stopped on the evenings it is not scheduled to run
                line, job_down = f"A{a}", float(self.working_evening[a])
                ahead = self.evenings[a, first : first + HORIZON_DAYS]
                stops[line] = [int(d) for d in np.flatnonzero(ahead <= 0)]
            risk.append(
                AssetRisk(
                    str(a),
                    line,
                    cdf,
                    failure_cost=dec.failure_cost,
                    failure_downtime_h=float(self.fail_h[a]),
                    job_cost=COSTS.visit_labour + 300.0,
                    job_hours=6.0,
                    job_downtime_h=job_down,
                    skill=f"S{self.f.site_of[a]}",
                )
            )
        if not risk:
            return
        sites = sorted({r.skill for r in risk})
        problem = PlanProblem(
            risk,
            horizon_days=HORIZON_DAYS,
            crew_hours={s: dec.crew_hours for s in sites},
            planned_stops=stops,
            default_downtime_cost_h=COSTS.downtime_h,
            time_limit_s=2.0,
        )
        for order in plan_maintenance(problem).orders:
            if order["day"] == 0:  # commit tomorrow's jobs; the rest is planned again tomorrow
                row = int(order["asset_id"])
                pol.planned_h[row] = h + START_HOUR
                pol.planned_mask[row] = 0  # inspect and repair what is found
                self.last_visit[row] = h
                if np.isfinite(pol.pm_interval_h[row]):  # the visit is the asset's inspection: its backstop restarts
                    pol.next_pm_h[row] = h + START_HOUR + pol.pm_interval_h[row]
                self.jobs[0] += 1


class _Oracle:
    def __init__(self, f: _Fleet, jobs: list[int]) -> None:
        self.prev: np.ndarray | None = None
        self.jobs = jobs
        self.applicable = f.applicable
        self.trip_c = f.params.trip_c

    def __call__(
        self, h: int, st: Any, pol: Any, down: dict[str, np.ndarray], failed: Any, rec: dict[str, np.ndarray]
    ) -> None:
        d = st.damage.copy()
        growth = np.zeros_like(d) if self.prev is None else np.clip(d - self.prev, 0.0, None)
        self.prev = d
        days_left = np.where(growth > 1e-9, (1.0 - d) / np.maximum(growth, 1e-12), np.inf)
        soon = ((days_left <= 4.0) | (d >= 0.7)) & self.applicable
        # a winding running within 10 degC of its trip temperature: the cooling is cleaned (the overheating mode)
        peak = rec["winding_c"][:, max(h - 24, 0) : h].max(axis=1)
        hot = peak >= self.trip_c - 10.0
        soon[:, OVERHEATING] |= hot
        days_left[hot, OVERHEATING] = np.where(peak[hot] >= self.trip_c[hot] - 3.0, 1.0, 2.0)
        rows = np.flatnonzero(soon.any(axis=1) & (down["kind"] == 0) & ~np.isfinite(pol.planned_h))
        for a in rows:
            worn = (d[a] >= 0.5) & self.applicable[a] | soon[a]
            pol.planned_h[a] = h + (1.0 if days_left[a].min() <= 1.0 else START_HOUR)
            pol.planned_mask[a] = int(np.bitwise_or.reduce(np.where(worn, MODE_BITS, 0)))
            self.jobs[0] += 1


def _consumption(plan: Any, days: int) -> dict[str, np.ndarray]:
    out = {name: np.zeros(days) for name, _ in COSTS.parts}
    for _a, minute, action, _result, _note in plan.maintenance:
        part = _part(action)
        if part is not None:
            out[part][min(minute // 1440, days - 1)] += 1
    return out


def _stock_waits(
    plan: Any, stock: dict[str, tuple[float, int]], days: int
) -> tuple[float, float, list[tuple[int, int, int]]]:
    """The shared (s, Q) stock of each part replayed against the run's consumption, a part that is not on the
    shelf waited for (:func:`~forewarn.plan.parts.replay_backorders`): stock-outs, holding cost, and the waits of
    breakdown repairs ``(asset, minute the repair ended, days waited)``."""
    lead = dict(COSTS.lead_days)
    used: dict[str, list[tuple[int, int, str]]] = {name: [] for name, _ in COSTS.parts}
    for a, minute, action, result, _note in plan.maintenance:
        part = _part(action)
        if part is not None:
            used[part].append((int(a), int(minute), str(result)))
    stockouts = holding = 0.0
    waits: list[tuple[int, int, int]] = []
    for part, uses in used.items():
        rop, qty = stock[part]
        replay = replay_backorders(
            [min(m // 1440, days - 1) for _a, m, _r in uses],
            rop,
            qty,
            lead[part],
            on_hand=int(np.ceil(rop)) + qty,
            days=days,
            holding_cost=COSTS.holding_per_part_day,
        )
        stockouts += float(replay["stockouts"])
        holding += float(replay["holding_cost"])
        waits += [
            (a, m, int(w)) for (a, m, r), w in zip(uses, replay["waits"], strict=True) if w > 0 and r == "corrective"
        ]
    return stockouts, holding, waits


def _waiting(plan: Any, waits: list[tuple[int, int, int]]) -> Any:
    """``plan`` with each breakdown repair that waited for a part ending that many days later: its stop is longer
    and the machine does not run meanwhile (what production, OEE and energy see). The machine's later history is
    not simulated again: the wait only shifts its return. A planned job short of a part is not delayed here (the
    planner holds the job until the part comes; the machine keeps running): it counts as a stock-out only."""
    if not waits:
        return plan
    downtime = list(plan.downtime)
    run = plan.run.copy()
    hours = run.shape[1]
    for a, minute, days in waits:
        extra = 1440 * days
        for i, (b, begin, end, kind) in enumerate(downtime):
            if b == a and kind == 1 and end == minute:
                downtime[i] = (b, begin, min(end + extra, 60 * hours), kind)
                run[a, minute // 60 : min((minute + extra) // 60 + 1, hours)] = 0.0
                break
    return dataclasses.replace(plan, downtime=downtime, run=run)


#: the parts a replacement renews, as damage modes of the record (the impeller: its wear)
_PART_MODES = {"bearing": (OUTER, INNER), "mechanical seal": (SEAL,), "stator winding": (INSULATION,)}
#: a planned replacement of a part used below this is counted early (life thrown away)
EARLY_LIFE = 0.5
#: the cost components of :func:`_score` whose sum is ``total_cost`` (:func:`gap_vs_oracle`)
COMPONENTS = (
    "failure_labour_cost",
    "visit_labour_cost",
    "light_labour_cost",
    "parts_planned_cost",
    "parts_corrective_cost",
    "unplanned_downtime_cost",
    "planned_downtime_cost",
    "stockout_cost",
    "holding_cost",
)


def _life_used(plan: Any, a: int, minute: int, part: str) -> float:
    """The replaced part's damage (the impeller's wear) just before the work that replaced it ended."""
    hour = min(max(minute // 60 - 1, 0), plan.run.shape[1] - 1)
    if part == "impeller":
        return float(plan.wear[a, hour])
    return float(max(plan.damage[a, m, hour] for m in _PART_MODES[part]))


def _score(f: _Fleet, outcome: _Outcome, stock: dict[str, tuple[float, int]], mode: str = "loop") -> dict[str, Any]:
    """One run's figures; ``mode`` (:data:`STOCK_MODES`) says how its parts were had."""
    plan = outcome.plan
    price = dict(COSTS.parts)
    light = 0.0
    parts_by = {"planned": 0.0, "corrective": 0.0}
    early = replaced = 0
    early_cost = life = 0.0
    visits = sum(1 for _a, _s, _e, kind in plan.downtime if kind == 2)
    kinds: dict[str, set[tuple[int, int]]] = {}
    for a, minute, action, result, note in plan.maintenance:
        part = _part(action)
        if result == "planned" and action != "oil_change":
            kinds.setdefault(str(note), set()).add((int(a), int(minute)))
        if action == "oil_change":
            parts_by["corrective" if result == "corrective" else "planned"] += COSTS.oil_change
        elif part is None:
            light += COSTS.light_action
        else:
            parts_by["corrective" if result == "corrective" else "planned"] += price[part]
            if result != "corrective":
                used = _life_used(plan, int(a), int(minute), part)
                replaced += 1
                life += used
                if used < EARLY_LIFE:
                    early += 1
                    early_cost += price[part]
    if mode == "replay":
        stockouts, holding, waits = _stock_waits(plan, stock, f.config.days)
        plan = _waiting(plan, waits)
    elif mode == "loop" and outcome.stock is not None:
        stockouts, holding = float(outcome.stock.stockouts), outcome.stock.holding_cost
    else:
        stockouts = holding = 0.0
    start = pd.Timestamp(f.config.start)
    data = production_data(
        plan=plan, regime=f.regime, params=f.params, assets=f.assets, start=start, seed=f.config.seed
    )
    total = oee(data.records, by=[]).iloc[0]
    unplanned_h = float(data.records["down_failure_h"].sum())
    planned_h = float(data.records["planned_downtime_h"].sum())
    parts_cost = parts_by["planned"] + parts_by["corrective"]
    labour = visits * COSTS.visit_labour + len(plan.failures) * COSTS.failure_labour + light
    downtime_cost = (unplanned_h + planned_h) * COSTS.downtime_h
    maintenance = labour + parts_cost
    total_cost = maintenance + downtime_cost + stockouts * COSTS.stockout + holding
    return {
        "policy": outcome.policy,
        "total_cost": total_cost,
        "unplanned_downtime_h": unplanned_h,
        "planned_downtime_h": planned_h,
        "failures": len(plan.failures),
        "oee": float(total["oee"]),
        "availability": float(total["availability"]),
        "maintenance_cost": maintenance,
        "parts_cost": parts_cost,
        "downtime_cost": downtime_cost,
        "stockouts": stockouts,
        "holding_cost": holding,
        "energy_per_good_kwh": float(total["energy_per_good_kwh"]),
        "planned_jobs": visits,
        # the cost broken down (COMPONENTS sum to total_cost) and what the visits were
        "failure_labour_cost": len(plan.failures) * COSTS.failure_labour,
        "visit_labour_cost": visits * COSTS.visit_labour,
        "light_labour_cost": light,
        "parts_planned_cost": parts_by["planned"],
        "parts_corrective_cost": parts_by["corrective"],
        "unplanned_downtime_cost": unplanned_h * COSTS.downtime_h,
        "planned_downtime_cost": planned_h * COSTS.downtime_h,
        "stockout_cost": stockouts * COSTS.stockout,
        "planned_replacements": replaced,
        "early_replacements": early,
        "early_parts_cost": early_cost,
        "life_used_sum": life,  # over the planned replacements (their mean: / planned_replacements)
        "breakdowns_waiting_for_parts": len(outcome.stock.waits) if mode == "loop" and outcome.stock else 0,
        "part_wait_days": float(sum(w for _a, _p, w in outcome.stock.waits))
        if mode == "loop" and outcome.stock
        else 0.0,
        "scheduled_visits": len(kinds.get("scheduled repair", ())),
        "calendar_visits": len(kinds.get("time-based visit", ())),
    }


def gap_vs_oracle(rows: list[dict[str, Any]], policy: str = "predictive") -> list[dict[str, Any]]:
    """Per seed, where ``policy`` spends more than the oracle: the difference of each cost component
    (:data:`COMPONENTS`, summing to the total's), of failures, visits and early replacements.

    >>> rows = [{"seed": 0, "policy": "oracle", "total_cost": 10.0, "failures": 1, "planned_jobs": 2,
    ...          "early_replacements": 0, **{c: 1.0 for c in COMPONENTS[:-1]}, "holding_cost": 2.0},
    ...         {"seed": 0, "policy": "predictive", "total_cost": 14.0, "failures": 3, "planned_jobs": 5,
    ...          "early_replacements": 1, **{c: 1.0 for c in COMPONENTS[:-1]}, "holding_cost": 6.0}]
    >>> g = gap_vs_oracle(rows)[0]
    >>> g["total_cost"], g["holding_cost"], g["failure_labour_cost"], g["failures"], g["planned_jobs"]
    (4.0, 4.0, 0.0, 2, 3)
    """
    by = {(r["seed"], r["policy"]): r for r in rows}
    out = []
    for seed in sorted({r["seed"] for r in rows}):
        mine, best = by.get((seed, policy)), by.get((seed, "oracle"))
        if mine is None or best is None:
            continue
        keys = ("total_cost", *COMPONENTS, "failures", "planned_jobs", "early_replacements")
        out.append({"seed": seed, "policy": policy} | {k: mine[k] - best[k] for k in keys if k in mine and k in best})
    return out


def _asset_costs(f: _Fleet, plan: Any) -> np.ndarray:
    """Each asset's cost of a run with every part on hand: :func:`_score`'s total without stock-outs and holding,
    split by asset (its visits, call-outs, light actions, oil, parts, and its scheduled hours stopped)."""
    cost = np.zeros(f.site_of.size)
    price = dict(COSTS.parts)
    for a, _begin, _end, kind in plan.downtime:
        if kind == 2:
            cost[a] += COSTS.visit_labour
    for a, _minute, _mode in plan.failures:
        cost[a] += COSTS.failure_labour
    for a, _minute, action, _result, _note in plan.maintenance:
        part = _part(action)
        cost[a] += COSTS.oil_change if action == "oil_change" else COSTS.light_action if part is None else price[part]
    data = production_data(
        plan=plan,
        regime=f.regime,
        params=f.params,
        assets=f.assets,
        start=pd.Timestamp(f.config.start),
        seed=f.config.seed,
    )
    hours = data.records.groupby("asset_id")[["down_failure_h", "planned_downtime_h"]].sum().sum(axis=1)
    index = {a.asset_id: i for i, a in enumerate(f.assets)}
    for asset_id, h in hours.items():
        cost[index[str(asset_id)]] += float(h) * COSTS.downtime_h
    return cost


def class_intervals(
    classes: Sequence[Sequence[str]], costs: dict[float, list[np.ndarray]]
) -> tuple[dict[str, float], dict[str, dict[float, float]]]:
    """Each asset class's time-based interval from its own history: the interval whose runs cost that class's assets
    least (``costs[interval][k]``: each asset's cost on history fleet ``k``, whose classes are ``classes[k]``).
    Returns the interval per class and the cost per asset-year of each class at each interval.

    Two fleets, two intervals; pumps cost least at 90 days, fans at 180:

    >>> classes = [["pump", "fan", "pump"], ["fan", "pump"]]
    >>> costs = {90.0: [np.array([10.0, 50.0, 20.0]), np.array([40.0, 0.0])],
    ...          180.0: [np.array([30.0, 20.0, 30.0]), np.array([30.0, 30.0])]}
    >>> best, table = class_intervals(classes, costs)
    >>> best, table["pump"]
    ({'fan': 180.0, 'pump': 90.0}, {90.0: 10.0, 180.0: 30.0})
    """
    names = sorted({c for fleet in classes for c in fleet})
    table: dict[str, dict[float, float]] = {c: {} for c in names}
    for interval, per_fleet in costs.items():
        for c in names:
            mask = [np.array([k == c for k in fleet]) for fleet in classes]
            assets = sum(int(m.sum()) for m in mask)
            table[c][interval] = float(sum(x[m].sum() for x, m in zip(per_fleet, mask, strict=True)) / max(assets, 1))
    return {c: min(table[c], key=lambda k: table[c][k]) for c in names}, table


def _stock_policy(history_plans: list[Any], days: int) -> dict[str, tuple[float, int]]:
    """(reorder point, order quantity) per part from the separate history's consumption (SBA, 95 % service)."""
    lead = dict(COSTS.lead_days)
    out = {}
    for part, _ in COSTS.parts:
        demand = np.concatenate([_consumption(p, days)[part] for p in history_plans])
        r = reorder_policy(part, demand, lead_time=lead[part], service_level=0.95)
        per_day = max(float(demand.mean()), 1e-3)
        out[part] = (r.reorder_point, max(1, int(round(per_day * 30))))  # order a month of use
    return out


def run_policies(
    seeds: int = 3,
    *,
    assets: int = 100,
    days: int = 365,
    sites: int = 4,
    history_seeds: int = 2,
    degradation_scale: float = 1.0,
    policies: Sequence[str] = POLICIES,
    stock: str = "loop",
    compare_stock: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train and tune on separate histories, then run each policy on each seed's fleet; per-seed rows and means.

    ``stock``: how parts are had (:data:`STOCK_MODES`); ``compare_stock``: also run each policy with every part on
    hand (``rows_without_stock``), to show what the stock costs."""
    say = progress or (lambda message: None)
    if stock not in STOCK_MODES:
        raise ConfigError(f"unknown stock mode {stock!r}; use one of {', '.join(STOCK_MODES)}")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ConfigError(f"unknown policy(ies) {', '.join(unknown)}; known: {', '.join(POLICIES)}")
    if seeds < 1 or history_seeds < 1 or assets < sites or days < 30:
        raise ConfigError("bench policy needs seeds >= 1, history_seeds >= 1, assets >= sites and days >= 30")
    t0 = time.perf_counter()
    history = [
        _draw(
            FleetConfig(
                sites=sites,
                assets=assets,
                days=days,
                seed=HISTORY_SEED + k,
                interval="1h",
                degradation_scale=degradation_scale,
            )
        )
        for k in range(history_seeds)
    ]
    # the failure model: forewarn train on a store of the histories' run-to-failure readings and events
    history_runs = {int(k): _simulate(h, "run_to_failure").plan for k, h in enumerate(history)}
    if not any(plan.failures for plan in history_runs.values()):
        raise ConfigError(
            f"the separate history ({history_seeds} fleet(s) of {assets} assets x {days} days) holds no failure to "
            "learn from; simulate more assets, more days or a larger degradation_scale"
        )
    with tempfile.TemporaryDirectory(prefix="forewarn-policy-") as work:
        model = train_bundle([(h, history_runs[k]) for k, h in enumerate(history)], work, progress=say)
    fit_s = time.perf_counter() - t0
    say(f"failure model: {model.model_id} {model.version} ({model.manifest.get('model')}), {fit_s:.1f} s")
    # each policy's stock is sized from its own demand: the parts it used on the histories (every part on hand)
    stocks = {"run_to_failure": _stock_policy(list(history_runs.values()), days)}

    def scored(h: _Fleet, name: str, bare: _Outcome, parts: dict[str, tuple[float, int]], **kw: Any) -> float:
        if stock != "loop":
            return float(_score(h, bare, parts, stock)["total_cost"])
        return float(_score(h, _simulate(h, name, stock=parts, **kw), parts, stock)["total_cost"])

    # the time-based interval, tuned on the histories (each interval with the stock its own demand calls for)
    tuned: dict[float, float] = {}
    tuned_stock: dict[float, dict[str, tuple[float, int]]] = {}
    per_asset: dict[float, list[np.ndarray]] = {}
    for interval in INTERVALS:
        runs = [_simulate(h, "time_based", interval=interval) for h in history]
        tuned_stock[interval] = _stock_policy([b.plan for b in runs], days)
        per_asset[interval] = [_asset_costs(h, b.plan) for h, b in zip(history, runs, strict=True)]
        costs = [
            scored(h, "time_based", b, tuned_stock[interval], interval=interval)
            for h, b in zip(history, runs, strict=True)
        ]
        tuned[interval] = float(np.mean(costs))
    best_interval = min(tuned, key=lambda k: tuned[k])
    stocks["time_based"] = tuned_stock[best_interval]
    say(f"time-based interval tuned on the history: {best_interval} d (mean cost by interval {tuned})")
    # each asset class's own interval on the same runs (every part on hand): the predictive policy's backstop
    class_days, class_tuning = class_intervals([h.classes for h in history], per_asset)
    say(f"time-based interval per class on the history: {class_days}")
    for name in ("condition_based", "predictive", "oracle"):
        if name in policies:
            used = [_simulate(h, name, model=model, decision=DECISION, class_days=class_days).plan for h in history]
            stocks[name] = _stock_policy(used, days)
    rows, without, calendar = [], [], []
    for seed in range(seeds):
        f = _draw(
            FleetConfig(
                sites=sites, assets=assets, days=days, seed=seed, interval="1h", degradation_scale=degradation_scale
            )
        )
        for name in policies:
            t1 = time.perf_counter()
            every: float | None = best_interval if name == "time_based" else None
            parts = stocks[name]
            looped = parts if stock == "loop" else None
            outcome = _simulate(
                f, name, interval=every, model=model, decision=DECISION, stock=looped, class_days=class_days
            )
            row = _score(f, outcome, parts, stock) | {"seed": seed, "seconds": time.perf_counter() - t1}
            rows.append(row)
            if compare_stock and stock != "none":
                t2 = time.perf_counter()
                bare = _simulate(f, name, interval=every, model=model, decision=DECISION, class_days=class_days)
                without.append(_score(f, bare, parts, "none") | {"seed": seed, "seconds": time.perf_counter() - t2})
            say(
                f"seed {seed} {name}: cost {row['total_cost']:,.0f}, failures {row['failures']}, "
                f"unplanned {row['unplanned_downtime_h']:.0f} h, jobs {row['planned_jobs']}, OEE {row['oee']:.4f} "
                f"({row['seconds']:.1f} s)"
            )
        if "time_based" in policies:  # a sensitivity, not a policy of the protocol: its visits on the calendar
            t3 = time.perf_counter()
            looped = stocks["time_based"] if stock == "loop" else None
            cal = _simulate(f, "time_based", interval=best_interval, stock=looped, free_window=CALENDAR_DAYS)
            calendar.append(
                _score(f, cal, stocks["time_based"], stock)
                | {"seed": seed, "policy": "time_based", "seconds": time.perf_counter() - t3}
            )
            say(f"seed {seed} time_based on the calendar: cost {calendar[-1]['total_cost']:,.0f}")
    return {
        "rows": rows,
        "rows_without_stock": without,
        "rows_time_based_calendar": calendar,
        "stock_mode": stock,
        "time_based_interval_days": best_interval,
        "tuning": tuned,
        "class_intervals": class_days,
        "class_tuning": class_tuning,
        "fit_s": fit_s,
        "stock": stocks,
        "decision": dataclasses.asdict(DECISION),
        "model": {
            "horizon": model.spec.horizon,
            "running_only": bool(getattr(model, "running_only", False)),
            "channels": list(model.spec.channels),
            # the decision's bar when it is set by the bundle's own flag rate (Decision.flag_share, flag_bar)
            "flag_bar": {str(k[0]): v for k, v in (getattr(model, "flag_bars", None) or {}).items()},
            "train_metrics": {
                k: v for k, v in (getattr(model, "train_metrics", None) or {}).items() if isinstance(v, int | float)
            },
        },
    }


def summary(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-policy means (and ``<metric>_std``) over seeds, and the issue's targets computed from them."""
    frame = pd.DataFrame(rows)
    metrics = [c for c in frame.columns if c not in ("policy", "seed")]
    results = []
    for name, g in frame.groupby("policy", sort=False):
        row: dict[str, Any] = {"policy": name, "model": name, "seeds": len(g)}
        for m in metrics:
            row[m] = float(g[m].mean())
            row[f"{m}_std"] = float(g[m].std(ddof=0))
        row["fit_s"] = 0.0
        row["predict_s"] = row.get("seconds", 0.0)
        results.append(row)
    by = {r["policy"]: r for r in results}
    targets: dict[str, Any] = {}
    if {"predictive", "oracle", "time_based"} <= set(by):
        tb, pr, orc = by["time_based"], by["predictive"], by["oracle"]
        saving_oracle = tb["total_cost"] - orc["total_cost"]
        targets = {
            "oracle_saving_captured": (tb["total_cost"] - pr["total_cost"]) / saving_oracle
            if saving_oracle > 0
            else None,
            "unplanned_downtime_cut_vs_time_based": 1.0 - pr["unplanned_downtime_h"] / tb["unplanned_downtime_h"]
            if tb["unplanned_downtime_h"] > 0
            else None,
            "oee_points_below_oracle": 100.0 * (orc["oee"] - pr["oee"]),
        }
    return results, targets


def _calendar_sensitivity(
    rows: list[dict[str, Any]], calendar: list[dict[str, Any]], keep: Sequence[str]
) -> dict[str, Any]:
    """The time-based policy on the calendar, summarised, and the targets with it in place of the time-based row."""
    if not calendar:
        return {}
    others = [r for r in rows if r["policy"] in ("predictive", "oracle")]
    results, targets = summary(calendar + others)
    row = next(r for r in results if r["policy"] == "time_based")
    return {"free_window_days": CALENDAR_DAYS, "result": {k: row[k] for k in keep if k in row}, "targets": targets}


def run(
    models: Sequence[str] | None = None,
    seeds: int = 3,
    data_dir: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The ``forewarn bench policy`` runner (``data_dir`` is ignored: the fleet is simulated). Options:
    ``assets``, ``days``, ``sites``, ``history_seeds``, ``degradation_scale``, ``stock``, ``compare_stock``."""
    allowed = {"assets", "days", "sites", "history_seeds", "degradation_scale", "stock", "compare_stock"}
    extra = sorted(set(options) - allowed)
    if extra:
        raise ConfigError(f"unknown policy bench option(s) {', '.join(extra)}; use {', '.join(sorted(allowed))}")
    chosen = list(POLICIES) if models is None or list(models) in (["all"], []) else list(models)
    out = run_policies(int(seeds), policies=chosen, progress=progress, **options)
    results, targets = summary(out["rows"])
    bare, bare_targets = summary(out["rows_without_stock"]) if out["rows_without_stock"] else ([], {})
    keep = ("policy", "total_cost", "unplanned_downtime_h", "failures", "oee", "maintenance_cost", "stockouts")
    return {
        "dataset": "policy",
        "protocol": (
            f"closed loop on the twin: {options.get('assets', 100)} assets, {options.get('days', 365)} days, "
            f"{seeds} seeds; time-based interval and failure model from separate histories; spare parts: "
            f"{out['stock_mode']}"
        ),
        "primary_metric": "total_cost",
        "results": results,
        "per_seed": out["rows"],
        "targets": targets,
        "stock_mode": out["stock_mode"],
        # each policy again with every part on the shelf: what the stock costs
        "without_stock": {"results": [{k: r[k] for k in keep if k in r} for r in bare], "targets": bare_targets},
        "gap_vs_oracle": gap_vs_oracle(out["rows"]),
        # a sensitivity beside the protocol: the time-based policy at its tuned interval with each visit pulled
        # forward up to CALENDAR_DAYS onto the production calendar's cheapest evening (as the predictive policy may
        # book its backstop), and the targets against it
        "time_based_on_calendar": _calendar_sensitivity(out["rows"], out["rows_time_based_calendar"], keep),
        "time_based_interval_days": out["time_based_interval_days"],
        "tuning": {str(k): v for k, v in out["tuning"].items()},
        # each asset class's own time-based interval on the same history runs, and its cost per asset by interval
        "class_intervals": out["class_intervals"],
        "class_tuning": {c: {str(k): v for k, v in t.items()} for c, t in out["class_tuning"].items()},
        # per policy, per part: sized from the parts that policy used on the separate histories (SBA, 95 % service)
        "stock_policy": {
            name: {k: {"reorder_point": v[0], "order_qty": v[1]} for k, v in parts.items()}
            for name, parts in out["stock"].items()
        },
        "decision": out["decision"],
        "predictive_model": out["model"],
        "costs": {k: v for k, v in COSTS.__dict__.items()},
        "published": [],
    }
