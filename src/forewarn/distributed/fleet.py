"""The fleet scored from a lake, in batches of assets, locally or on a Ray cluster, with the same functions.

``fleet_score(lake, models, out, engine=...)``: the selected assets (:func:`selected_assets`: the registry sorted
by asset id, filtered by site, class and the model's classes) are cut into ``[start, stop)`` ranges of at most
``batch_size`` assets (:func:`batch_ranges`); each range goes to a :class:`BatchScorer` that loaded the live bundle,
the events' failure and renewal marks and the selected assets once (one per Ray actor), reads each asset's last
``history_rows`` buckets from the lake (only the newest day partitions,
:func:`forewarn.distributed.lake.asset_tail`), computes the window features with the same kernel and decides
probability, health, risk, RUL, drivers and action with the same code as ``forewarn score``
(:func:`forewarn.train.score.asset_features` and :func:`forewarn.train.score.decide`), and writes its rows as one
Parquet file under ``out``. The driver gets back a few numbers per batch: its memory does not grow with the
readings. :func:`ranked` reads the written rows and ranks them (probability, then asset).

On Ray, a batch whose actor dies is run again on a restarted actor (``max_restarts``/``max_task_retries``); a
batch's file is written under a name of its first asset and replaced whole (write to a temporary name, then
rename), so a retried batch leaves the same output.

The actors are the job's own (started by the job, stopped at its end) or the warm pool's (:class:`WarmScorer`,
:func:`start_pool`: named, detached actors that outlive jobs, with the scoring code imported and the last jobs'
bundles kept). What the driver waits for is kept short (BENCHMARKS.md, issue 19, where the time went): this module
imports only the standard library; on the warm pool the driver imports Ray and nothing else of weight (a warm
actor resolves the live version and counts the assets, :func:`plan_job`); with the job's own actors it reads the
live version from the registry's listing and the serving spec (no model is loaded), starts the actors and counts
the assets while they import the scoring code (:mod:`forewarn.train.score`, scikit-learn, LightGBM: ~1.5 CPU-s)
and load the bundle.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forewarn.distributed.manifest import check_lake
from forewarn.exceptions import ConfigError, DataNotFoundError

if TYPE_CHECKING:
    import pandas as pd

SUMMARY = ("assets", "readings", "seconds")


def selected_assets(
    lake: str, sites: tuple[str, ...] = (), classes: tuple[str, ...] = (), model_classes: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The lake's assets a job scores (``asset_id, asset_class, site_id, n``), sorted by asset id, ``n`` their
    position: those of ``sites`` and ``classes`` (all when empty) that the model serves (``model_classes``, the
    serving spec's ``asset_classes``; all when empty). Every process of a job computes the same list, so a batch
    is a range ``[start, stop)`` of it."""
    import numpy as np

    from forewarn.distributed import lake as lakes

    registry = lakes.assets(lake)
    for column, keep in (("site_id", sites), ("asset_class", classes), ("asset_class", model_classes)):
        if keep:
            registry = registry[registry[column].isin(list(keep))]
    registry = registry[["asset_id", "asset_class", "site_id"]].reset_index(drop=True)
    registry["n"] = np.arange(len(registry))
    return registry


def batch_ranges(assets: int, batch_size: int, workers: int = 1) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``batch_size`` assets, as even as possible, their number a multiple of
    ``workers`` (when there are that many assets), so that actors handed one batch after another finish together.

    >>> batch_ranges(10, 4)
    [(0, 4), (4, 7), (7, 10)]
    >>> batch_ranges(10, 4, workers=2)
    [(0, 3), (3, 6), (6, 8), (8, 10)]
    """
    if assets <= 0:
        return []
    count = -(-assets // int(batch_size))
    count = min(assets, -(-count // int(workers)) * int(workers))
    bounds = [assets * k // count for k in range(count + 1)]
    sizes = [bounds[k + 1] - bounds[k] for k in range(count)]
    sizes.sort(reverse=True)  # the larger batches first
    edges = [0]
    for size in sizes:
        edges.append(edges[-1] + size)
    return list(zip(edges[:-1], edges[1:], strict=True))


class BatchScorer:
    """Scores batches of the assets :func:`selected_assets` picks from ``lake`` (``sites``, ``classes``) with the
    bundle in ``bundle_folder``; writes each batch to ``out`` and returns its counts."""

    def __init__(
        self,
        lake: str,
        bundle_folder: str,
        out: str,
        model_id: str = "",
        version: str = "",
        sites: tuple[str, ...] = (),
        classes: tuple[str, ...] = (),
    ) -> None:
        from forewarn.bundles.bundle import Bundle
        from forewarn.distributed import lake as lakes
        from forewarn.features.coverage import class_channels
        from forewarn.train.labels import latest_marks

        self.lake, self.out = lake, Path(out)
        self.bundle = Bundle(bundle_folder, model_id=model_id, version=version)
        self.marks = latest_marks(lakes.events(lake))
        # the channels each class sends: the coverage rule's expectations, as forewarn score reads them from a store
        self.reported = class_channels(lakes.class_channel_pairs(lake))
        self.assets = selected_assets(lake, tuple(sites), tuple(classes), tuple(self.bundle.spec.asset_classes))

    def __call__(self, batch: tuple[int, int]) -> dict[str, float]:
        return self.score(batch)

    def score(self, span: tuple[int, int]) -> dict[str, float]:
        """Score the assets ``[start, stop)`` of :attr:`assets`, write their file; returns ``assets``,
        ``readings``, ``seconds`` (busy), and this process's ``pid`` and ``cpu`` time so far."""
        import numpy as np
        from threadpoolctl import threadpool_limits

        from forewarn.distributed import lake as lakes
        from forewarn.features.age import hours_since_renewal, with_age
        from forewarn.train.labels import is_down
        from forewarn.train.score import asset_features, decide

        started = time.perf_counter()
        batch = self.assets.iloc[int(span[0]) : int(span[1])]
        serving = self.bundle.spec
        done, readings = [], 0
        with threadpool_limits(limits=1):
            for info in batch.itertuples():
                failed_at, since = self.marks.get(info.asset_id, (None, None))
                wide, read = lakes.asset_tail(
                    self.lake,
                    info.site_id,
                    info.asset_id,
                    interval=serving.interval or "1h",
                    rows=int(serving.history_rows),
                    since=since,
                )
                readings += read
                history = wide.reindex(columns=["ts", *serving.channels])
                history.insert(0, "asset_id", info.asset_id)
                base = {"asset_id": info.asset_id, "asset_class": info.asset_class, "site_id": info.site_id}
                status = "down" if is_down((failed_at, since)) else "in_service"
                done.append(asset_features(serving, (base, status, history), self.reported))
            rows, features = [row for row, _ in done], [x for _, x in done]
            if serving.age_feature:  # as forewarn score does: the age at each asset's last row since its renewal
                renewed = {asset: marks[1] for asset, marks in self.marks.items()}
                ids = [row["asset_id"] for row in rows]
                age = hours_since_renewal(ids, [row.get("last_reading") for row in rows], renewed)
                features = list(with_age(np.vstack(features), age))
            table = decide(self.bundle, rows, features, None).drop(columns="rank")
        first = int(batch["n"].iloc[0])
        target = self.out / f"part-{first:09d}.parquet"
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        table.astype({"last_reading": "datetime64[us, UTC]"}).to_parquet(partial, index=False)
        partial.replace(target)
        return {
            "assets": len(batch),
            "readings": readings,
            "seconds": time.perf_counter() - started,
            "pid": os.getpid(),
            "cpu": time.process_time(),
            "cpu_from": 0.0,  # a job's own actor: its process from its start (a warm one: WarmScorer)
        }


#: the Ray namespace of the warm pool's named, detached actors (``forewarn ray-pool start``)
POOL_NAMESPACE = "forewarn-pool"
POOLS = ("auto", "warm", "job")


class WarmScorer:
    """A scoring actor that outlives jobs (one of the warm pool's named, detached actors).

    What it holds: this process (Ray's worker, booted once), the scoring code imported when it starts
    (:mod:`forewarn.train.score`, the bundle loader, scikit-learn and LightGBM; not torch), and the scorers of the
    last few jobs (:data:`KEEP`): each a loaded bundle with the events' failure and renewal marks and the selected
    asset registry of one lake, kept under the bundle's content digest (:func:`bundle_digest`, which the job's
    plan carries: a job whose bundle is already loaded, from whatever folder, skips the load; a bundle whose files
    changed has a new digest and is loaded again) while the lake's ``events.parquet``, ``assets.parquet`` and
    ``lake.json`` are unchanged (their size and modification time). It holds no readings and no scores between
    batches: each batch is read from the lake and written to the job's ``out`` like a job's own actor does. A
    killed warm actor is restarted by Ray (imports again) and its batch run again."""

    KEEP = 4

    def __init__(self) -> None:
        started = time.perf_counter()
        import lightgbm  # noqa: F401 - imported once for every job the pool serves
        import sklearn.linear_model  # noqa: F401

        import forewarn.bundles.bundle  # noqa: F401
        import forewarn.train.score  # noqa: F401

        self.import_seconds = time.perf_counter() - started
        self.scorers: dict[tuple[Any, ...], BatchScorer] = {}
        self.loads = 0  # scorers built (bundles loaded) by this process

    def ready(self) -> dict[str, Any]:
        """This actor's process id and Ray node, the seconds its imports took, how many scorers it keeps and how
        many it has built (``loads``: a bundle loaded)."""
        import ray

        node = ray.get_runtime_context().get_node_id()
        return {
            "pid": os.getpid(),
            "node": node,
            "import_seconds": round(self.import_seconds, 3),
            "kept": len(self.scorers),
            "loads": self.loads,
        }

    def plan(
        self, lake: str, models: str, model_id: str | None, sites: tuple[str, ...], classes: tuple[str, ...]
    ) -> dict[str, Any]:
        """:func:`plan_job` here, so that the job's driver imports neither the registry nor pandas; with this
        process's ``pid`` and its CPU time before (``cpu_from``) and after (``cpu``), counted in the job's CPU."""
        cpu_from = time.process_time()
        plan = plan_job(lake, models, model_id, sites, classes)
        return {**plan, "pid": os.getpid(), "cpu_from": cpu_from, "cpu": time.process_time()}

    def score(
        self, scorer: type[BatchScorer], args: tuple[Any, ...], batch: tuple[int, int], digest: str = ""
    ) -> dict[str, float]:
        """:meth:`BatchScorer.score` of ``batch`` for the job ``args`` (``lake, bundle folder, out, model_id,
        version, sites, classes``) with a kept scorer, or a new one (loads the bundle, the events and the
        registry); ``digest``: the bundle's :func:`bundle_digest` (the plan's; when empty, the folder and its
        ``serving.json``'s size and modification time stand for it). The row's ``cpu_from`` is this process's CPU
        time before the call, so a job counts only its own share of a warm actor."""
        cpu_from = time.process_time()
        lake, folder, out = args[0], args[1], args[2]
        stamps = [Path(lake) / "events.parquet", Path(lake) / "lake.json", Path(lake) / "assets.parquet"]
        if not digest:
            stamps.append(Path(folder) / "serving.json")
        bundle = digest or folder
        key = (scorer, lake, bundle, *args[3:], *((f.stat().st_size, f.stat().st_mtime_ns) for f in stamps))
        found = self.scorers.pop(key, None)
        if found is None:
            found = scorer(*args)
            self.loads += 1
        self.scorers[key] = found  # the newest last; the oldest dropped past KEEP
        while len(self.scorers) > self.KEEP:
            self.scorers.pop(next(iter(self.scorers)))
        found.out = Path(out)
        row = found.score(batch)
        row["cpu_from"] = cpu_from
        return row


def _pool_names(ray: Any) -> list[str]:
    named = ray.util.list_named_actors(all_namespaces=True)
    names = [a["name"] for a in named if a.get("namespace") == POOL_NAMESPACE and a["name"].startswith("scorer-")]
    return sorted(names, key=lambda name: int(name.rsplit("-", 1)[1]))


def warm_actors(ray: Any) -> list[Any]:
    """The warm pool's actors on the cluster ``ray`` is connected to (none: ``[]``)."""
    return [ray.get_actor(name, namespace=POOL_NAMESPACE) for name in _pool_names(ray)]


def start_pool(address: str | None, workers: int | None = None) -> dict[str, Any]:
    """Start (or grow to) ``workers`` warm scoring actors on the cluster at ``address`` (default: one per CPU of
    the cluster): named ``scorer-<k>`` in the namespace :data:`POOL_NAMESPACE`, detached (they outlive this
    process), asked to go to the nodes in turn while each has CPUs left (a soft node affinity: elsewhere when that
    node is gone; the test cluster once put both of two actors on one node), restarted when they die. They reserve no CPU (``num_cpus=0``), so other
    ``--engine ray`` jobs still schedule beside them. Returns when every actor has imported the scoring code:
    ``{"actors": [{"name", "pid", "node", "import_seconds", "kept", "loads"}...], "seconds"}``."""
    from forewarn.distributed.engine import connect

    started = time.perf_counter()
    ray = connect(address)
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if int(workers) < 1:
        raise ConfigError(f"workers={workers!r} must be at least 1")
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(WarmScorer)
    nodes = sorted(
        (node for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU", 0) > 0),
        key=lambda node: (-node["Resources"]["CPU"], node["NodeID"]),
    )
    most = max((int(node["Resources"]["CPU"]) for node in nodes), default=0)
    places = [node["NodeID"] for i in range(most) for node in nodes if node["Resources"]["CPU"] > i] or [None]
    actors = [
        remote.options(
            name=f"scorer-{k}",
            namespace=POOL_NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            scheduling_strategy=(
                "DEFAULT"
                if places[k % len(places)] is None
                else NodeAffinitySchedulingStrategy(places[k % len(places)], soft=True)
            ),
        ).remote()
        for k in range(int(workers))
    ]
    found = ray.get([actor.ready.remote() for actor in actors])
    rows = [{"name": f"scorer-{k}", **row} for k, row in enumerate(found)]
    return {"actors": rows, "seconds": round(time.perf_counter() - started, 3)}


def pool_status(address: str | None) -> dict[str, Any]:
    """The warm pool's actors on the cluster at ``address``: ``{"actors": [{"name", "pid", "node", ...}]}``."""
    from forewarn.distributed.engine import connect

    ray = connect(address)
    names = _pool_names(ray)
    found = ray.get([ray.get_actor(name, namespace=POOL_NAMESPACE).ready.remote() for name in names])
    return {"actors": [{"name": name, **row} for name, row in zip(names, found, strict=True)]}


def stop_pool(address: str | None) -> dict[str, Any]:
    """Stop the warm pool's actors on the cluster at ``address``; returns ``{"stopped": [names]}``."""
    from forewarn.distributed.engine import connect

    ray = connect(address)
    names = _pool_names(ray)
    for name in names:
        ray.kill(ray.get_actor(name, namespace=POOL_NAMESPACE), no_restart=True)
    return {"stopped": names}


def live_spec(models: str | os.PathLike[str], model_id: str | None = None) -> tuple[str, str, Path, Any]:
    """The live version of ``model_id`` (or of the only model id in ``models``) as ``(model_id, version, folder,
    serving spec)``, from the registry's listing and the spec file: the model itself is not loaded (the
    :class:`BatchScorer` loads it). The same choice as :func:`forewarn.train.score.live_bundle`."""
    from forewarn.bundles.bundle import SPEC_FILE, ServingSpec
    from forewarn.bundles.registry import chosen_model

    registry, model_id = chosen_model(models, model_id)
    version = registry.active_version(model_id)
    folder = Path(models) / model_id / version
    spec = ServingSpec.from_json(json.loads((folder / SPEC_FILE).read_text(encoding="utf-8")))
    return model_id, version, folder, spec


def bundle_digest(folder: str | os.PathLike[str]) -> str:
    """The SHA-256 of a bundle folder's files (each file's path under the folder and its bytes, in name order):
    the key a warm actor keeps a loaded bundle under. The same files in another folder give the same digest; a
    changed byte, file name or an added file gives another.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "serving.json").write_text("{}")
    ...     first = bundle_digest(folder)
    ...     _ = (Path(folder) / "serving.json").write_text("{ }")
    ...     (len(first), first == bundle_digest(folder))
    (64, False)
    """
    import hashlib

    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


def plan_job(
    lake: str, models: str, model_id: str | None, sites: tuple[str, ...], classes: tuple[str, ...]
) -> dict[str, Any]:
    """What a job scores: the live ``model_id``, ``version`` and bundle ``folder`` (:func:`live_spec`), the bundle's
    ``digest`` (:func:`bundle_digest`) and how many ``assets`` :func:`selected_assets` picks."""
    model_id, version, folder, spec = live_spec(models, model_id)
    count = len(selected_assets(lake, sites, classes, tuple(spec.asset_classes)))
    digest = bundle_digest(folder)
    return {"model_id": model_id, "version": version, "folder": str(folder), "digest": digest, "assets": count}


def fleet_score(
    lake: str | os.PathLike[str],
    models: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model_id: str | None = None,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    sites: list[str] | None = None,
    classes: list[str] | None = None,
    scorer: type[BatchScorer] | None = None,
    store: str | os.PathLike[str] | None = None,
    pool: str = "auto",
) -> dict[str, Any]:
    """Score every selected asset of ``lake`` with the live bundle in ``models``; rows go to Parquet files under
    ``out`` (a new or empty folder). Returns ``{"engine", "actors", "assets", "readings", "batches",
    "busy_seconds", "cpu_seconds", "seconds", "out"}``: ``busy_seconds`` is the time spent scoring batches,
    ``cpu_seconds`` the CPU time of the processes that did the job (this one, and on Ray each actor's process:
    a job's own from its start, imports and bundle loading included; a warm one from the job's first call to it
    to its last, which counts another job's batches too when two jobs share the pool at once),
    ``seconds`` the wall time of this call. Batches hold at most ``batch_size`` assets, as even as possible
    (:func:`batch_ranges`).

    ``engine="ray"`` runs the batches on the cluster at ``address`` (a private local one when ``None``) with
    ``workers`` actors (default: one per CPU of the cluster, or every actor of the warm pool). ``scorer``: a
    :class:`BatchScorer` subclass to run instead (the tests use one that kills its own process once). ``pool``
    (Ray only): ``auto`` uses the warm pool (:func:`start_pool`, ``forewarn ray-pool start``) when the cluster has
    one, else starts the job's own actors; ``warm`` requires the pool; ``job`` always starts the job's own actors
    (stopped at the end). The summary says which ran (``actors``: ``warm``, ``job`` or ``local``). On the warm
    pool this process imports neither pandas nor the registry: an actor resolves the live version and counts the
    assets (:func:`plan_job`). ``store``: a store the rows are also appended to, a DuckDB file or a PostgreSQL
    store's URL (:func:`to_store`; the summary then says ``stored``, the rows added)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    scored_at = datetime.now(UTC)
    if engine not in ("local", "ray"):
        raise ConfigError(f"engine {engine!r} is not one of local, ray")
    if pool not in POOLS:
        raise ConfigError(f"pool {pool!r} is not one of {', '.join(POOLS)}")
    if engine == "local" and pool == "warm":
        raise ConfigError("the warm pool is on a Ray cluster: use engine='ray' (--engine ray)")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be at least 1")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"output folder {str(out)!r} is not empty; choose a new or empty folder")
    check_lake(lake)
    if store is not None:  # before the job, not after it
        check_store(store)
    job = (str(lake), str(models), model_id, tuple(sites or ()), tuple(classes or ()))
    actors = _ActorPool(address, workers, scorer or BatchScorer, pool) if engine == "ray" else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        totals = dict.fromkeys(SUMMARY, 0.0)
        actors_cpu = 0.0
        if actors is None:
            plan = plan_job(*job)
            args = (str(lake), plan["folder"], str(out), plan["model_id"], plan["version"], *job[3:])
            ranges = batch_ranges(plan["assets"], int(batch_size))
            run = (scorer or BatchScorer)(*args)
            for batch in ranges:
                _add(totals, run(batch))
        else:
            plan = actors.start(job, str(out))  # the job's own actors start while this process counts the assets
            ranges = batch_ranges(plan["assets"], int(batch_size), len(actors.actors))
            actors_cpu = actors.run(ranges, totals)
    finally:
        if actors is not None:
            actors.close()
    model_id, version = plan["model_id"], plan["version"]
    stored = None if store is None else to_store(out, store, model_id=model_id, version=version, scored_at=scored_at)
    return {
        "engine": engine,
        "actors": "local" if actors is None else actors.kind,
        **({} if stored is None else {"stored": stored, "scored_at": scored_at.isoformat()}),
        "assets": int(totals["assets"]),
        "readings": int(totals["readings"]),
        "batches": len(ranges),
        "busy_seconds": round(totals["seconds"], 3),
        "cpu_seconds": round(time.process_time() - cpu_started + actors_cpu, 3),
        "seconds": round(time.perf_counter() - started, 3),
        "out": str(out),
    }


def _add(totals: dict[str, float], count: dict[str, float]) -> None:
    for key in SUMMARY:
        totals[key] += float(count[key])


class _ActorPool:
    """The job's actors: the warm pool's (``pool`` ``auto`` or ``warm``, see :class:`WarmScorer`), or ``workers``
    new actors of ``scorer`` (one CPU each), started by :meth:`start` and stopped by :meth:`close`. :meth:`run`
    hands each actor its next batch as soon as it returns the previous one, so that the actors finish together
    whatever the batches cost.

    Plain actors rather than Ray Data's ``map_batches``: the same actors and streaming, without Data's planning,
    its executor and its extra blocks, part of the ~5 s a job paid before the work on an idle machine
    (BENCHMARKS.md, issue 19; the stages that remain are timed there). An actor
    whose process dies is restarted (its bundle loaded again) and its batch run again (``max_restarts``,
    ``max_task_retries``); a batch's file is replaced whole, so the output does not change."""

    def __init__(self, address: str | None, workers: int | None, scorer: type[BatchScorer], pool: str) -> None:
        from forewarn.distributed.engine import connect

        self.ray, self.scorer, self.workers = connect(address), scorer, workers
        warm = [] if pool == "job" else warm_actors(self.ray)
        if pool == "warm" and not warm:
            raise ConfigError(
                "no warm pool on the cluster; start one with `forewarn ray-pool start --ray-address ADDR`"
            )
        self.kind = "warm" if warm else "job"
        self.actors: list[Any] = (warm[: int(workers)] if workers else warm) if warm else []
        self.args: tuple[Any, ...] = ()
        self.digest = ""  # the bundle's digest (the warm pool's plan)
        self.planned: tuple[int, float, float] | None = None  # the warm actor that planned: pid, CPU before, after

    def start(self, job: tuple[Any, ...], out: str) -> dict[str, Any]:
        """Resolve the job (:func:`plan_job`) and get the actors ready: a warm actor plans it; otherwise this
        process resolves the live version, starts the job's actors and counts the assets while they start."""
        lake, models, model_id, sites, classes = job
        if self.kind == "warm":
            plan = dict(self.ray.get(self.actors[0].plan.remote(*job)))
            self.digest = str(plan["digest"])
            self.planned = (int(plan["pid"]), float(plan["cpu_from"]), float(plan["cpu"]))
        else:
            model_id, version, folder, spec = live_spec(models, model_id)
            args = (lake, str(folder), out, model_id, version, sites, classes)
            workers = self.workers or max(1, int(self.ray.cluster_resources().get("CPU", 1)))
            remote = self.ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(self.scorer)
            self.actors = [remote.remote(*args) for _ in range(int(workers))]
            count = len(selected_assets(lake, sites, classes, tuple(spec.asset_classes)))
            plan = {"model_id": model_id, "version": version, "folder": str(folder), "assets": count}
        self.args = (lake, plan["folder"], out, plan["model_id"], plan["version"], sites, classes)
        return plan

    def _submit(self, actor: Any, batch: tuple[int, int]) -> Any:
        if self.kind == "warm":
            return actor.score.remote(self.scorer, self.args, batch, self.digest)
        return actor.score.remote(batch)

    def run(self, batches: list[tuple[int, int]], totals: dict[str, float]) -> float:
        """Score ``batches``, adding their counts to ``totals``; returns the actors' CPU seconds in this job (a
        job's own actor: its process from its start; a warm one: from its first batch of the job)."""
        queue = list(reversed(batches))
        running: dict[Any, Any] = {}
        idle = list(self.actors[: len(batches)])  # an actor with no batch only started
        for actor in idle:
            running[self._submit(actor, queue.pop())] = actor
        cpu: dict[int, list[float]] = {} if self.planned is None else {self.planned[0]: list(self.planned[1:])}
        while running:
            [ready], _ = self.ray.wait(list(running), num_returns=1)
            actor = running.pop(ready)
            if queue:
                running[self._submit(actor, queue.pop())] = actor
            count = self.ray.get(ready)  # a few numbers: the driver never holds the readings
            _add(totals, count)
            pid, start, end = int(count["pid"]), float(count["cpu_from"]), float(count["cpu"])
            span = cpu.setdefault(pid, [start, end])  # a process's CPU time only grows
            span[0], span[1] = min(span[0], start), max(span[1], end)
        return sum(end - start for start, end in cpu.values())

    def close(self) -> None:
        if self.kind == "job":
            for actor in self.actors:
                self.ray.kill(actor)


#: the store's table of fleet scores (one row per asset and run): ``forewarn lake-score --store`` appends to it
STORE_TABLE = "fleet_scores"
STORE_DDL = f"""CREATE TABLE IF NOT EXISTS {STORE_TABLE} (
    scored_at TIMESTAMPTZ NOT NULL, model_id VARCHAR NOT NULL, version VARCHAR NOT NULL, asset_id VARCHAR NOT NULL,
    asset_class VARCHAR, site_id VARCHAR, status VARCHAR, last_reading TIMESTAMPTZ, probability DOUBLE,
    health DOUBLE, risk VARCHAR, rul DOUBLE, rul_low DOUBLE, rul_high DOUBLE, unit VARCHAR, drivers VARCHAR,
    action VARCHAR, PRIMARY KEY (scored_at, model_id, asset_id))"""
_TYPES = {"last_reading": "TIMESTAMPTZ", "probability": "DOUBLE", "health": "DOUBLE", "rul": "DOUBLE"}
_TYPES |= {"rul_low": "DOUBLE", "rul_high": "DOUBLE"}
_CELLS: tuple[str, ...] = (
    "asset_id",
    "asset_class",
    "site_id",
    "status",
    "last_reading",
    "probability",
    "health",
    "risk",
    "rul",
)
_CELLS += ("rul_low", "rul_high", "unit", "drivers", "action")


def store_is_postgres(store: str | os.PathLike[str]) -> bool:
    """Whether ``store`` names a PostgreSQL store (``postgresql://...``) rather than a DuckDB file."""
    from forewarn.store.pg_sql import is_postgres_url

    return bool(is_postgres_url(str(store)))


def check_store(store: str | os.PathLike[str]) -> None:
    """Refuse a store that the rows cannot go to, before the job: a DuckDB file that does not exist, or a
    PostgreSQL store that does not answer (opened and closed once: it is created or migrated if needed)."""
    if store_is_postgres(store):
        from forewarn.store import Store

        Store(str(store)).close()
    elif not Path(store).is_file():
        raise DataNotFoundError(f"store {str(store)!r} does not exist; --store names the plant's DuckDB file")


def _to_postgres(files: list[str], url: str, stamp: tuple[object, str, str]) -> int:
    """The PostgreSQL side of :func:`to_store`: the table created if missing, the rows sent with COPY one
    batch file at a time (this process holds one batch), all in one transaction."""
    import psycopg
    import pyarrow.parquet as pq

    from forewarn.store import Store

    ddl = STORE_DDL.replace(" DOUBLE", " DOUBLE PRECISION")
    names = ", ".join(("scored_at", "model_id", "version", *_CELLS))
    added = 0
    with Store(url) as db, db.connection(write=True) as con:  # type: ignore[attr-defined]
        try:
            with con.transaction(), con.cursor() as cursor:
                cursor.execute(ddl)
                with cursor.copy(f"COPY {STORE_TABLE} ({names}) FROM STDIN") as copy:
                    for name in files:
                        table = pq.read_table(name)
                        present = [c for c in _CELLS if c in table.column_names]
                        for row in table.select(present).to_pylist():  # nulls stay NULL, NaN stays NaN
                            cells = [row.get(c) for c in _CELLS]
                            copy.write_row([*stamp, *(_pg_cell(c, v) for c, v in zip(_CELLS, cells, strict=True))])
                            added += 1
        except psycopg.Error as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"cannot write the scores into {db.path}: {reason}") from None
    return added


def _pg_cell(name: str, value: Any) -> Any:
    if value is None or name in _TYPES:
        return value
    return str(value)  # as DuckDB's CAST(... AS VARCHAR)


def to_store(
    out: str | os.PathLike[str], store: str | os.PathLike[str], *, model_id: str, version: str, scored_at: object
) -> int:
    """Append the rows a :func:`fleet_score` wrote under ``out`` to the table ``fleet_scores`` of ``store`` (a
    DuckDB store file, or a PostgreSQL store's ``postgresql://`` URL; the table is created on first use), stamped
    ``scored_at``, ``model_id`` and ``version``; returns the rows added. One transaction: all the run's rows or
    none. DuckDB reads the Parquet files itself (streaming); to PostgreSQL they go by COPY one batch file at a
    time: this process never holds the fleet's rows. A run written twice (same ``scored_at`` and model) is refused
    by the key. ``Store.sql("SELECT ... FROM fleet_scores")`` reads them back on either backend."""
    import duckdb
    import pandas as pd

    from forewarn.store.store import check_store_file, lock_conflict

    files = sorted(str(f) for f in Path(out).glob("part-*.parquet"))
    if not files:
        raise ConfigError(f"{str(out)!r} holds no scored batch (part-*.parquet); run fleet_score first")
    if store_is_postgres(store):
        return _to_postgres(files, str(store), (pd.Timestamp(scored_at).to_pydatetime(), model_id, version))
    if not Path(store).is_file():
        raise DataNotFoundError(f"store {str(store)!r} does not exist; --store names the plant's DuckDB file")
    check_store_file(Path(store))
    try:
        con = duckdb.connect(str(store))
    except duckdb.Error as err:
        raise ConfigError(lock_conflict(str(store), err) or f"cannot open store {str(store)!r}: {err}") from None
    cells = ", ".join(f"CAST({name} AS {_TYPES.get(name, 'VARCHAR')}) AS {name}" for name in _CELLS)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN TRANSACTION")
        con.execute(STORE_DDL)
        before = int(con.execute(f"SELECT count(*) FROM {STORE_TABLE}").fetchone()[0])  # type: ignore[index]
        con.execute(
            f"INSERT INTO {STORE_TABLE} SELECT CAST(? AS TIMESTAMPTZ), ?, ?, {cells} "
            "FROM read_parquet(?, union_by_name = true)",
            [pd.Timestamp(scored_at).isoformat(), model_id, version, files],
        )
        added = int(con.execute(f"SELECT count(*) FROM {STORE_TABLE}").fetchone()[0]) - before  # type: ignore[index]
        con.execute("COMMIT")
    except duckdb.Error as err:
        con.execute("ROLLBACK")
        raise ConfigError(f"cannot write the scores into {str(store)!r}: {err}") from None
    finally:
        con.close()
    return added


def ranked(out: str | os.PathLike[str], top: int | None = None) -> pd.DataFrame:
    """The rows a :func:`fleet_score` wrote under ``out``, ranked by probability (then asset id), columns
    :data:`forewarn.train.score.COLUMNS`."""
    import numpy as np
    import pandas as pd

    from forewarn.train.score import COLUMNS

    files = sorted(Path(out).glob("part-*.parquet"))
    if not files:
        raise ConfigError(f"{str(out)!r} holds no scored batch (part-*.parquet); run fleet_score first")
    table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    table = table.sort_values(["probability", "asset_id"], ascending=[False, True], na_position="last", kind="stable")
    table = table.reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    table = table[list(COLUMNS)]
    return table.head(top) if top else table
