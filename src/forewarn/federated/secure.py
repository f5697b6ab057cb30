"""Secure aggregation of the network's updates with Flower's own SecAgg+ (``SecAggPlusWorkflow`` and
``secaggplus_mod``): the server learns the sum of the sites' weighted parameters, never one site's parameters.

flwr 1.32 offers SecAgg+ only on its legacy path: the server runs ``DefaultWorkflow(fit_workflow=
SecAggPlusWorkflow(...))`` on a ``LegacyContext`` with a ``flwr.server.strategy`` strategy, and the site's
``ClientApp`` carries ``secaggplus_mod``, which answers the protocol's key set-up, key sharing and unmasking
stages itself and, in the masking stage, calls the site's ``train`` handler and reads its reply as a legacy
``FitRes`` (records ``fitres.*``). The Message-API strategies of :mod:`~forewarn.federated.apps` do not go through
that workflow, so secure aggregation has apps of its own here: the same network, local training
(:func:`~forewarn.federated.network.train_local`), seeds and shared standardiser (the moments query first, as in
:func:`~forewarn.federated.apps.serve`), with the training round in the legacy record format.

What it costs: each site quantises ``num_examples x parameters`` (clipped to ``clipping_range``) to
``quantization_range`` levels before masking, so the average is exact only to the quantisation step; four
message exchanges per round instead of one, and the pairwise key agreement and mask generation.
:func:`federate_secure` runs it on the in-process Grid; ``benchmarks/federated_secagg.py`` measures accuracy and
time against the plain FedAvg run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError
from forewarn.federated import apps
from forewarn.federated import network as net

SECURE_FILE = "secure-global.npz"
#: SecAgg+ quantisation (Flower's defaults): parameters clipped to +-8 and mapped to 2**22 levels
CLIPPING_RANGE = 8.0
QUANTIZATION_RANGE = 2**22


def check_secure(strategy: str, dp_noise: float, sites: int) -> None:
    """What SecAgg+ runs with here: FedAvg, no central DP, three sites or more (a clear error otherwise)."""
    if strategy != "fedavg" or dp_noise > 0:
        raise ConfigError("secure aggregation runs FedAvg without central DP (the server never sees one update)")
    if sites < 3:
        raise ConfigError(
            f"secure aggregation needs at least 3 sites, not {sites} (with two, each site learns the "
            "other's update from the sum; SecAgg+ splits keys into at least 3 shares)"
        )


def _layer_names(spec: net.NetSpec) -> list[str]:
    return [f"layer{i}.{part}" for i in range(len(spec.sizes) - 1) for part in ("weight", "bias")]


def secure_client_app(data_folder: str | None = None) -> Any:
    """A ``ClientApp`` with ``secaggplus_mod``: the moments query as in :func:`~forewarn.federated.apps.client_app`,
    and a ``train`` handler that speaks the legacy fit records the mod expects."""
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.client.mod import secaggplus_mod
    from flwr.clientapp import ClientApp
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat

    app = ClientApp(mods=[secaggplus_mod])

    def rows(context: Context) -> dict[str, np.ndarray]:
        if "data-file" in context.node_config:
            return apps.read_site(Path(str(context.node_config["data-file"])))
        if data_folder is None:
            raise ConfigError("the site has no data: pass data-file in its node config")
        return apps.read_site(apps.site_file(data_folder, int(context.node_config["partition-id"])))

    @app.query()  # type: ignore[untyped-decorator,unused-ignore]
    def moments(message: Message, context: Context) -> Message:
        m = net.Moments.of(rows(context)["X_train"])
        content = RecordDict(
            {
                "arrays": ArrayRecord(
                    {"count": apps._array(m.count), "total": apps._array(m.total), "squares": apps._array(m.squares)}
                ),
                "metrics": MetricRecord(
                    {"num-examples": len(rows(context)["X_train"]), "site-index": apps._site_id(context)}
                ),
            }
        )
        return Message(content=content, reply_to=message)

    @app.train()  # type: ignore[untyped-decorator,unused-ignore]
    def train(message: Message, context: Context) -> Message:
        data = rows(context)
        # the legacy records read directly: the config holds lists (layer sizes, the standardiser), which the
        # legacy FitIns' scalar config cannot
        config: Any = message.content.config_records["fitins.config"]
        spec = apps.spec_from_config(config, data["X_train"].shape[1])
        names = _layer_names(spec)
        record = message.content.array_records["fitins.parameters"]
        arrays = parameters_to_ndarrays(compat.arrayrecord_to_parameters(record, keep_input=True))
        params: dict[str, np.ndarray] = dict(zip(names, arrays, strict=True))
        params["scaler.mean"] = np.asarray(config["scaler-mean"], dtype="float64")
        params["scaler.scale"] = np.asarray(config["scaler-scale"], dtype="float64")
        seed = int(config["seed"]) * 100_003 + int(config["server-round"]) * 101 + apps._site_id(context)
        epochs = net.epochs_for(
            len(data["X_train"]), spec.batch_size, int(config["local-epochs"]), int(config.get("min-local-steps", 0))
        )
        updated, loss = net.train_local(params, spec, data["X_train"], data["y_train"], epochs=epochs, seed=seed)
        fitres = FitRes(
            Status(Code.OK, "ok"),
            ndarrays_to_parameters([updated[n] for n in names]),
            len(data["X_train"]),
            {"train-loss": float(loss)},
        )
        return Message(content=compat.fitres_to_recorddict(fitres, keep_input=False), reply_to=message)

    return app


def secure_server_app(config: apps.FedConfig, out_folder: str, *, num_shares: int | None = None) -> Any:
    """A ``ServerApp``: the moments query, then ``config.rounds`` rounds of FedAvg on SecAgg+ sums; writes
    :data:`SECURE_FILE` and ``secure-history.json``. ``num_shares``: each site's key is split among that many
    sites (all of them unless told), any two thirds of which can rebuild it (a dropped site's mask)."""
    from flwr.app import ConfigRecord, Context, RecordDict
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat
    from flwr.server import ServerConfig
    from flwr.server.compat.legacy_context import LegacyContext
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.serverapp import Grid, ServerApp

    check_secure(config.strategy, config.dp_noise, config.sites)
    shares = int(num_shares or config.sites)
    if not 3 <= shares <= config.sites:
        raise ConfigError(f"num_shares={shares} must be within 3..{config.sites} (the sites)")
    app = ServerApp()

    @app.main()  # type: ignore[untyped-decorator,unused-ignore]
    def main(grid: Grid, context: Context) -> None:
        started = time.perf_counter()
        nodes = apps._wait_for_nodes(grid, config.sites, config.timeout_s)
        replies = sorted(
            apps.query_sites(
                grid,
                nodes,
                lambda: RecordDict({"config": ConfigRecord({"stage": "moments"})}),
                config.timeout_s,
                "the moments query",
            ),  # fmt: skip
            key=lambda r: int(str(r.content["metrics"]["site-index"])),
        )
        total = None
        for reply in replies:
            a: Any = reply.content["arrays"]
            m = net.Moments(a["count"].numpy(), a["total"].numpy(), a["squares"].numpy())
            total = m if total is None else total + m
        assert total is not None
        counts: list[Any] = [r.content["metrics"]["num-examples"] for r in replies]
        rows = sum(int(c) for c in counts)
        spec = config.net_spec(len(total.count))
        params = net.initial(spec, total.scaler(), config.seed)
        names = _layer_names(spec)
        fit_config = config.train_config() | {
            "scaler-mean": params["scaler.mean"].tolist(),
            "scaler-scale": params["scaler.scale"].tolist(),
        }
        strategy = FedAvg(
            fraction_fit=1.0,
            fraction_evaluate=0.0,
            min_fit_clients=config.sites,
            min_evaluate_clients=0,
            min_available_clients=config.sites,
            initial_parameters=ndarrays_to_parameters([params[n] for n in names]),
            on_fit_config_fn=lambda r: fit_config | {"server-round": r},
            fit_metrics_aggregation_fn=_mean_loss,
        )
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=config.rounds), strategy=strategy)
        workflow = SecAggPlusWorkflow(
            num_shares=shares,
            reconstruction_threshold=max(2, (2 * shares + 2) // 3),
            max_weight=float(rows),  # a site's weight is its rows: none exceeds all of them
            clipping_range=CLIPPING_RANGE,
            quantization_range=QUANTIZATION_RANGE,
            timeout=config.timeout_s,
        )
        DefaultWorkflow(fit_workflow=workflow)(grid, legacy)
        final_arrays = parameters_to_ndarrays(
            compat.arrayrecord_to_parameters(legacy.state.array_records["parameters"], keep_input=True)
        )
        final: dict[str, Any] = dict(zip(names, final_arrays, strict=True))
        final["scaler.mean"], final["scaler.scale"] = params["scaler.mean"], params["scaler.scale"]
        out = Path(out_folder)
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "rounds": config.rounds,
            "sites": len(nodes),
            "num_shares": shares,
            "server_seconds": round(time.perf_counter() - started, 3),
        }
        (out / "secure-history.json").write_text(json.dumps(record), encoding="utf-8")
        np.savez(out / SECURE_FILE, **final)

    return app


def _mean_loss(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The sites' training losses averaged by their rows (what the round's record keeps).

    >>> _mean_loss([(1, {"train-loss": 1.0}), (3, {"train-loss": 3.0})])
    {'train-loss': 2.5}
    """
    rows = sum(n for n, _ in results)
    return {"train-loss": float(sum(n * float(m["train-loss"]) for n, m in results) / max(rows, 1))}


def federate_secure(
    sites: Sequence[Any], config: apps.FedConfig, *, num_shares: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The network over ``sites`` (:class:`~forewarn.federated.simulate.SiteRows`) with SecAgg+ on the in-process
    Grid; returns the global parameters and the record (seconds, shares)."""
    import shutil
    import tempfile

    from forewarn.federated.inprocess import run_local

    work = Path(tempfile.mkdtemp(prefix="fw-secagg-"))
    try:
        apps.write_sites(work / "sites", sites)
        started = time.perf_counter()
        server = secure_server_app(config, str(work / "out"), num_shares=num_shares)
        flower_log = logging.getLogger("flwr")
        level = flower_log.level
        flower_log.setLevel(logging.WARNING)  # the legacy workflow logs every stage at INFO
        try:
            grid = run_local(server, secure_client_app(str(work / "sites")), len(sites))
        finally:
            flower_log.setLevel(level)
        record = json.loads((work / "out" / "secure-history.json").read_text(encoding="utf-8"))
        record["wall_s"] = round(time.perf_counter() - started, 3)
        record["messages"] = sum(1 for entry in grid.log if entry[0] == "to-site")
        with np.load(work / "out" / SECURE_FILE, allow_pickle=False) as data:
            params = {k: data[k] for k in data.files}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return params, record


__all__ = ["federate_secure", "secure_client_app", "secure_server_app"]
