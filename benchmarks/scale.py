"""Scale-out figures (issue 19): the fleet scored from a Parquet lake, locally and on Ray with 1 and 2 workers,
and the driver's peak memory as the fleet doubles.

The lake: a twin plant (30 assets, 60 days at 10 min, 18 channels: ~4.1 M readings) is exported with ``forewarn
export``'s function, then cloned ``--clones`` times under new asset ids (hard links of the day files, so a 50 M-
reading lake costs no disk); a live logistic failure model is trained on the twin store. Each run is a fresh
Python process (``--child``) that scores the whole lake with :func:`forewarn.distributed.fleet.fleet_score` and
reports its wall time as the user waits for it (the whole process: interpreter, imports, connecting to the cluster,
starting the actors, scoring; cluster start-up excluded: the cluster is started first), the CPU seconds of the
process and of the Ray actors' processes, the readings it read and its peak resident memory (``VmHWM``; for Ray
that is the driver's alone). Ray runs on a ``ray start --head`` cluster on
127.0.0.1 with ``--num-cpus`` 1 or 2 and as many actors.

    .venv/bin/python benchmarks/scale.py --work /tmp/scale --clones 6 12 --repeats 1

A fleet score reads each asset's newest buckets only (the model's window): ``--clones 12`` is a 50 M-reading lake
whose score reads 9.7 M readings, ``--clones 62`` a 257 M-reading lake whose score reads 50.3 M (BENCHMARKS.md,
issue 19). ``--pool warm kept`` times the warm pool (started untimed, like the cluster); ``--cli`` times each run
as ``forewarn lake-score`` itself.

    .venv/bin/python benchmarks/scale.py --work /tmp/s19 --clones 12 --repeats 3 --pool job warm kept
    .venv/bin/python benchmarks/scale.py --work /tmp/s19 --clones 62 --repeats 3 --pool warm
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def cli_child(args: argparse.Namespace) -> None:
    """``--cli``: the job as ``forewarn lake-score`` runs it (the script's entry point, its imports of Typer and
    the command modules included), in this process so that its CPU time is counted as :func:`child` counts it."""
    import contextlib
    import io

    from forewarn.cli.main import run as forewarn

    out = Path(tempfile.mkdtemp(prefix="scale-out-", dir=args.work))
    shutil.rmtree(out)
    before = time.process_time()  # this process's imports
    argv = ["lake-score", "--lake", str(args.lake), "--models", str(args.models), "--out", str(out)]
    argv += ["--engine", args.engine, "--pool", args.pool, "--batch-size", str(args.batch_size)]
    argv += ["--ray-address", args.address, "--workers", str(args.workers)] if args.address else []
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            forewarn(argv)
        except SystemExit as done:
            if done.code:
                raise
    summary = json.loads(printed.getvalue())
    summary["cpu_s"] = summary["cpu_seconds"] + before
    summary["driver_cpu_s"] = time.process_time()
    summary["peak_rss_mib"] = peak_rss_mib()
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(summary))


def child(args: argparse.Namespace) -> None:
    from forewarn.distributed.fleet import fleet_score

    out = Path(tempfile.mkdtemp(prefix="scale-out-", dir=args.work))
    shutil.rmtree(out)
    before = time.process_time()  # this process's imports
    summary = fleet_score(  # on Ray: connecting to the cluster and starting the actors included
        args.lake,
        args.models,
        out,
        engine=args.engine,
        address=args.address,
        workers=args.workers,
        batch_size=args.batch_size,
        pool=args.pool,
    )
    summary["cpu_s"] = summary["cpu_seconds"] + before  # this process from its start, plus the actors' processes
    summary["driver_cpu_s"] = time.process_time()
    summary["peak_rss_mib"] = peak_rss_mib()
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(summary))


def stages(args: argparse.Namespace) -> None:
    """Where a Ray job's fixed cost goes, stage by stage, in a fresh driver (wall and CPU seconds): the driver's
    imports, importing ray, connecting, then in one actor its process start (Ray's worker boot), the import of
    the scoring code, the bundle and events, and its first batch."""
    started = time.perf_counter()
    from forewarn.distributed import fleet

    found: dict[str, float] = {"driver_imports_s": time.perf_counter() - started}
    found["driver_imports_cpu_s"] = time.process_time()
    mark = time.perf_counter()
    import ray

    found["import_ray_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    from forewarn.distributed.engine import connect

    connect(args.address)
    found["connect_s"] = time.perf_counter() - mark

    @ray.remote(num_cpus=1)
    class Probe:
        def __init__(self, *scorer_args: str) -> None:
            self.boot = (time.time(), time.process_time())
            from forewarn.distributed.fleet import BatchScorer

            self.imported = (time.time(), time.process_time())
            self.scorer = BatchScorer(*scorer_args)
            self.loaded = (time.time(), time.process_time())

        def first(self, batch: tuple[int, int]) -> dict[str, float]:
            mark = (time.time(), time.process_time())
            self.scorer.score(batch)
            done = (time.time(), time.process_time())
            return {
                "created_to_init_s": self.boot[0],
                "worker_boot_cpu_s": self.boot[1],
                "actor_imports_s": self.imported[0] - self.boot[0],
                "actor_imports_cpu_s": self.imported[1] - self.boot[1],
                "bundle_and_events_s": self.loaded[0] - self.imported[0],
                "bundle_and_events_cpu_s": self.loaded[1] - self.imported[1],
                "first_batch_s": done[0] - mark[0],
                "first_batch_cpu_s": done[1] - mark[1],
            }

    model_id, version, folder, _ = fleet.live_spec(args.models)
    out = Path(tempfile.mkdtemp(prefix="scale-stages-", dir=args.work))
    created = time.time()
    probe = Probe.remote(str(args.lake), str(folder), str(out), model_id, version)  # type: ignore[attr-defined]
    row = ray.get(probe.first.remote((0, 16)))  # the first 16 assets
    row["created_to_init_s"] -= created
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({**found, **{k: round(v, 3) for k, v in row.items()}}))


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it does not carry the parent's peak over
    the exec that started this process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(work: Path) -> tuple[Path, Path]:
    import forewarn.train
    from forewarn.distributed.lake import export_lake
    from forewarn.store import Store
    from forewarn.twin.demo import demo_fleet

    store, models, lake = work / "plant.duckdb", work / "models", work / "lake-1"
    if not store.exists():
        with Store(store) as db:
            demo_fleet(seed=3).to_store(db)
    if not models.exists():
        forewarn.train(store, models, task="failure", horizon="72h", interval="3h", model="logistic-failure")
    if not lake.exists():
        export_lake(store, lake)
    return models, lake


def clone(base: Path, clones: int, work: Path) -> Path:
    """``clones`` copies of the base lake's assets under new ids (``<id>-k<k>``), day files hard-linked."""
    lake = work / f"lake-{clones}"
    if lake.exists():
        return lake
    import pandas as pd

    assets = pd.read_parquet(base / "assets.parquet")
    events = pd.read_parquet(base / "events.parquet")
    (lake / "readings").mkdir(parents=True)
    for k in range(clones):
        for site in (base / "readings").iterdir():
            for folder in site.iterdir():
                target = lake / "readings" / site.name / f"{folder.name}-k{k}"
                for day in folder.iterdir():
                    (target / day.name).mkdir(parents=True)
                    for f in day.iterdir():
                        os.link(f, target / day.name / f.name)
    ids = lambda frame, k: frame.assign(asset_id=frame["asset_id"] + f"-k{k}")  # noqa: E731
    pd.concat([ids(assets, k) for k in range(clones)]).to_parquet(lake / "assets.parquet", index=False)
    pd.concat([ids(events, k) for k in range(clones)]).to_parquet(lake / "events.parquet", index=False)
    shutil.copy(base / "channels.parquet", lake / "channels.parquet")
    manifest = json.loads((base / "lake.json").read_text())
    manifest.update(
        readings=manifest["readings"] * clones, assets=len(assets) * clones, files=manifest["files"] * clones
    )
    (lake / "lake.json").write_text(json.dumps(manifest))
    return lake


def run(
    work: Path,
    lake: Path,
    models: Path,
    engine: str,
    address: str | None,
    workers: int | None,
    pool: str = "job",
    batch_size: int = 16,
    cli: bool = False,
) -> dict:
    """One fresh process scoring the lake: ``wall_s`` is the process's wall time as the user waits for it
    (interpreter, imports, connecting to the cluster, actors, scoring, exit); ``job_s`` the call's alone. ``cli``:
    the process runs ``forewarn lake-score`` (:func:`cli_child`) rather than calling ``fleet_score``."""
    command = [sys.executable, str(HERE), "--child", "--work", str(work), "--lake", str(lake), "--models", str(models)]
    command += ["--engine", engine, "--pool", pool, "--batch-size", str(batch_size)] + (["--cli"] if cli else [])
    command += ["--address", address, "--workers", str(workers)] if address else []
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {**found, "wall_s": round(wall, 3), "job_s": found["seconds"]}


def start_cluster(cpus: int, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = Path(tempfile.mkdtemp(prefix="fwr-", dir="/tmp"))
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    ray = Path(sys.executable).with_name("ray")
    process = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--num-cpus={cpus}", "--include-dashboard=false",
         "--node-ip-address=127.0.0.1", f"--port={port}", f"--temp-dir={temp}", "--disable-usage-stats"],
        env=env, stdout=(work / f"ray-{cpus}.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    time.sleep(15)
    process.temp = temp  # type: ignore[attr-defined]
    return process, f"127.0.0.1:{port}"


def fresh_pool(address: str, workers: int) -> None:
    """Stop the cluster's warm pool, if any, and start ``workers`` new actors (imports done, no bundle kept);
    this process then leaves the cluster (the actors are detached and stay)."""
    import ray

    from forewarn.distributed.fleet import start_pool, stop_pool

    stop_pool(address)
    print("pool", json.dumps(start_pool(address, workers)), flush=True)
    ray.shutdown()


def stop_cluster(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=20)
            break
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue
    shutil.rmtree(process.temp, ignore_errors=True)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/forewarn-scale"))
    parser.add_argument("--clones", type=int, nargs="+", default=[6, 12])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--stages", action="store_true", help="time each stage of a Ray job's fixed cost, 3 times")
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--models", type=Path)
    parser.add_argument("--engine", default="local")
    parser.add_argument("--address")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--cli", action="store_true", help="each run is `forewarn lake-score` (Typer and the commands imported too)"
    )
    parser.add_argument(
        "--pool",
        nargs="+",
        default=["job", "warm"],
        help="Ray actors: job (each job starts its own), warm (a fresh warm pool before each run: imports done, "
        "the bundle loaded in the run) and/or kept (one pool that already served the model once)",
    )
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if args.child:
        args.pool = args.pool[0]
        (stages if args.stages else cli_child if args.cli else child)(args)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    models, base = build(args.work)
    lakes = {k: clone(base, k, args.work) for k in args.clones}
    rows = []
    for k, lake in lakes.items():
        for _ in range(args.repeats):
            found = run(args.work, lake, models, "local", None, None, "auto", args.batch_size, args.cli)
            rows.append({**found, "clones": k, "engine": "local"})
            print(json.dumps(rows[-1]), flush=True)
    for cpus in (1, 2):
        process, address = start_cluster(cpus, args.work)
        try:
            for _ in range(3 if args.stages and cpus == 1 else 0):
                command = [sys.executable, str(HERE), "--child", "--stages", "--work", str(args.work)]
                command += ["--lake", str(base), "--models", str(models), "--address", address]
                print("stages", subprocess.run(command, capture_output=True, text=True, check=True).stdout, flush=True)
            for pool in args.pool:
                if pool == "kept":  # a pool started with the cluster that has served this model and lake: untimed
                    fresh_pool(address, cpus)
                    for lake in lakes.values():
                        run(args.work, lake, models, "ray", address, cpus, "warm", args.batch_size)
                for k, lake in lakes.items():
                    for _ in range(args.repeats):
                        if pool == "warm":  # a fresh pool for each run (started with the cluster): untimed
                            fresh_pool(address, cpus)
                        child_pool = "job" if pool == "job" else "warm"
                        found = run(
                            args.work, lake, models, "ray", address, cpus, child_pool, args.batch_size, args.cli
                        )
                        name = f"ray-{cpus}" + ("" if pool == "job" else f"-{pool}")
                        rows.append({**found, "clones": k, "engine": name})
                        print(json.dumps(rows[-1]), flush=True)
        finally:
            stop_cluster(process)
    import pandas as pd

    table = pd.DataFrame(rows)
    summary = table.groupby(["clones", "engine"]).agg(
        lake_readings=("clones", lambda c: int(json.loads((lakes[c.iloc[0]] / "lake.json").read_text())["readings"])),
        assets=("assets", "first"),
        readings_read=("readings", "first"),
        wall_s=("wall_s", statistics.median),
        job_s=("job_s", statistics.median),
        cpu_s=("cpu_s", statistics.median),
        driver_cpu_s=("driver_cpu_s", statistics.median),
        peak_rss_mib=("peak_rss_mib", statistics.median),
    )
    print(summary.to_string())


if __name__ == "__main__":
    main()
