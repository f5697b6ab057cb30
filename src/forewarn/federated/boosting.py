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
    from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()  # type: ignore[untyped-decorator,unused-ignore]
    def main(grid: Grid, context: Context) -> None:
        started = time.perf_counter()
        nodes = apps._wait_for_nodes(grid, sites, 600.0)
        common: dict[str, Any] = {"stage": STAGE, "kind": kind, "classes": classes, "seed": seed}
        common["settings"] = json.dumps(settings or {})
        messages = [
            Message(
                content=RecordDict({"config": ConfigRecord(common | {"site-index": -1})}),
                message_type=MessageType.QUERY,
                dst_node_id=n,
            )
            for n in nodes
        ]
        replies = list(grid.send_and_receive(messages, timeout=600.0))
        errors = [r.error.reason for r in replies if r.has_error()]
        if errors or len(replies) != len(nodes):
            raise DataNotFoundError(f"{len(nodes) - len(replies)} site(s) sent no booster: {errors}")
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
        for i, site in enumerate(sites):
            X_test = site.X_test if site.X_test.size else np.empty((0, site.X_train.shape[1]))
            apps.write_site(apps.site_file(work / "sites", i), site.X_train, site.y_train, X_test, site.y_test)
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
