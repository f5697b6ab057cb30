"""The server's side of federated boosting (:mod:`~forewarn.federated.trees`): a ``ServerApp`` that asks each site
for its LightGBM booster, and :func:`federate_trees`, which runs it over sites' rows on the in-process Grid."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import DataNotFoundError
from forewarn.federated import apps
from forewarn.federated.trees import BOOSTERS_FILE, STAGE, BaggedBoosters


def trees_server_app(
    sites: int, kind: str, out_folder: str, *, classes: int = 1, seed: int = 0, settings: dict[str, Any] | None = None
) -> Any:
    """A ``ServerApp`` that asks each of ``sites`` sites for its booster and writes :data:`BOOSTERS_FILE`."""
    from flwr.app import ConfigRecord, Context, RecordDict
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()  # type: ignore[untyped-decorator,unused-ignore]
    def main(grid: Grid, context: Context) -> None:
        started = time.perf_counter()
        nodes = apps._wait_for_nodes(grid, sites, 600.0)
        common: dict[str, Any] = {"stage": STAGE, "kind": kind, "classes": classes, "seed": seed}
        common["settings"] = json.dumps(settings or {})
        replies = apps.query_sites(
            grid, nodes, lambda: RecordDict({"config": ConfigRecord(common | {"site-index": -1})}), 600.0,
            "the booster query",
        )  # fmt: skip
        boosters = []
        for reply in replies:
            metrics: Any = reply.content["metrics"]
            arrays: Any = reply.content["arrays"]
            text = arrays["booster"].numpy().tobytes().decode("utf-8")
            boosters.append({"site": int(metrics["site-index"]), "rows": int(metrics["num-examples"]), "model": text})
        boosters.sort(key=lambda b: b["site"])
        out = Path(out_folder)
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "kind": kind,
            "boosters": boosters,
            "bytes": int(sum(len(b["model"]) for b in boosters)),
            "server_seconds": round(time.perf_counter() - started, 3),
        }
        (out / BOOSTERS_FILE).write_text(json.dumps(record), encoding="utf-8")

    return app


def federate_trees(
    sites: Sequence[Any], kind: str, *, classes: int = 1, seed: int = 0, settings: dict[str, Any] | None = None
) -> tuple[BaggedBoosters, dict[str, Any]]:
    """Bagged boosters over ``sites`` (:class:`~forewarn.federated.simulate.SiteRows`) through the Flower apps on
    the in-process Grid; returns the global model and the record (bytes sent, seconds)."""
    import shutil
    import tempfile

    from forewarn.federated.inprocess import run_local

    work = Path(tempfile.mkdtemp(prefix="fw-trees-"))
    try:
        apps.write_sites(work / "sites", sites)
        started = time.perf_counter()
        server = trees_server_app(len(sites), kind, str(work / "out"), classes=classes, seed=seed, settings=settings)
        run_local(server, apps.client_app(str(work / "sites")), len(sites))
        record = json.loads((work / "out" / BOOSTERS_FILE).read_text(encoding="utf-8"))
        record["wall_s"] = round(time.perf_counter() - started, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    boosters = record.pop("boosters")
    model = BaggedBoosters([b["model"] for b in boosters], [float(b["rows"]) for b in boosters], kind)
    record["sites"] = [b["site"] for b in boosters]
    return model, record


# -- histogram aggregation (:mod:`~forewarn.federated.histboost`) ------------------------------------------------
HIST_FILE = "hist-booster.npz"


def hist_server_app(sites: int, kind: str, out_folder: str, settings: Any = None) -> Any:
    """A ``ServerApp`` that grows trees on the sum of the sites' histograms (:mod:`~forewarn.federated.histboost`)
    and writes :data:`HIST_FILE` (edges, starting score, trees) and a record of what crossed."""
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()  # type: ignore[untyped-decorator,unused-ignore]
    def main(grid: Grid, context: Context) -> None:
        serve_hist(grid, sites, kind, out_folder, settings)

    return app


def serve_hist(grid: Any, sites: int, kind: str, out_folder: str | Path, settings: Any = None) -> None:
    """The histogram-aggregation server's work on ``grid``; every reply is taken in site order."""
    from dataclasses import asdict

    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    from forewarn.federated import histboost as hb

    chosen: hb.HistSettings = settings or hb.HistSettings()
    started = time.perf_counter()
    nodes = apps._wait_for_nodes(grid, sites, 600.0)
    sent = received = messages = 0

    def ask(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        nonlocal sent, received, messages
        common: dict[str, Any] = {"kind": kind, "bins": chosen.bins} | config

        def content() -> Any:
            return RecordDict(
                {
                    "config": ConfigRecord(common),
                    "arrays": ArrayRecord({k: apps._array(v) for k, v in arrays.items()}),
                }
            )

        replies = apps.query_sites(grid, nodes, content, 600.0, str(config["stage"]))
        replies.sort(key=lambda r: int(r.content["metrics"]["site-index"]))
        answers = [{k: v.numpy() for k, v in r.content["arrays"].items()} for r in replies]
        messages += len(nodes)
        sent += len(nodes) * int(sum(np.asarray(v).nbytes for v in arrays.values()))
        received += int(sum(v.nbytes for a in answers for v in a.values()))
        return answers

    sketches = ask({"stage": "hist-sketch"}, {})
    edges = hb.merge_edges([a["quantiles"] for a in sketches], [a["counts"] for a in sketches])
    rows = float(sum(a["rows"][0] for a in sketches))
    base = hb.start_score(kind, rows, float(sum(a["target"][0] for a in sketches)))
    lengths = np.array([len(e) for e in edges], dtype=np.int64)
    flat = np.concatenate(edges) if len(edges) else np.empty(0)
    ask({"stage": "hist-setup", "base": base}, {"edges": flat, "edge_lengths": lengths})
    model = hb.HistBooster(kind, edges, base)

    def histograms(tree: hb.Tree, level: int, finished: hb.Tree | None) -> np.ndarray:
        arrays = tree.arrays("tree.") | ({} if finished is None else finished.arrays("finished."))
        config = {"stage": "hist-level", "tree": len(model.trees), "level": level}
        total: np.ndarray | None = None
        for answer in ask(config, arrays):  # site order: the same sum on every transport
            total = answer["hist"] if total is None else total + answer["hist"]
        assert total is not None
        return total

    hb.grow(chosen, model, histograms)
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "kind": kind,
        "settings": asdict(chosen),
        "sites": len(nodes),
        "rows": rows,
        "messages": messages,
        "bytes_to_sites": sent,
        "bytes_from_sites": received,
        "server_seconds": round(time.perf_counter() - started, 3),
    }
    (out / "hist-record.json").write_text(json.dumps(record), encoding="utf-8")
    saved: dict[str, Any] = {"edges": flat, "edge_lengths": lengths, "base": np.array([base])}
    saved |= {f"trees.{k}": np.stack([getattr(t, k) for t in model.trees]) for k in hb.Tree.empty(1).arrays()}
    np.savez(out / HIST_FILE, **saved)


def read_hist(folder: str | Path, kind: str) -> Any:
    """The :class:`~forewarn.federated.histboost.HistBooster` a histogram run wrote to ``folder``."""
    from forewarn.federated import histboost as hb

    path = Path(folder) / HIST_FILE
    if not path.is_file():
        raise DataNotFoundError(f"no boosted model at {str(path)!r}: the run did not finish")
    with np.load(path, allow_pickle=False) as data:
        lengths = data["edge_lengths"].astype(np.int64)
        edges = np.split(data["edges"], np.cumsum(lengths)[:-1]) if len(lengths) else []
        stacked = {k: data[f"trees.{k}"] for k in hb.Tree.empty(1).arrays()}
        base = float(data["base"][0])
    trees = [hb.Tree(**{k: v[i] for k, v in stacked.items()}) for i in range(len(stacked["split"]))]
    return hb.HistBooster(kind, list(edges), base, trees)


def federate_hist(sites: Sequence[Any], kind: str, settings: Any = None) -> tuple[Any, dict[str, Any]]:
    """Histogram-aggregated boosting over ``sites`` (:class:`~forewarn.federated.simulate.SiteRows`) through the
    Flower apps on the in-process Grid; returns the model and the record (messages, bytes each way, seconds)."""
    import shutil
    import tempfile

    from forewarn.federated.inprocess import run_local

    work = Path(tempfile.mkdtemp(prefix="fw-hist-"))
    try:
        apps.write_sites(work / "sites", sites)
        started = time.perf_counter()
        server = hist_server_app(len(sites), kind, str(work / "out"), settings)
        run_local(server, apps.client_app(str(work / "sites")), len(sites))
        record = json.loads((work / "out" / "hist-record.json").read_text(encoding="utf-8"))
        record["wall_s"] = round(time.perf_counter() - started, 3)
        model = read_hist(work / "out", kind)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return model, record
