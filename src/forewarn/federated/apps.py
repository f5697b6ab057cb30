"""The Flower apps: one ``ClientApp`` per site, one ``ServerApp`` (Flower's Message API, flwr 1.32).

What crosses between them, and nothing else:

* ``query`` (once, before round 1): the server asks every site for the per-feature count, sum and sum of squares
  of its training rows (:class:`~forewarn.federated.network.Moments`); it adds them into the shared standardiser.
* ``train`` (every round): the server sends the global parameters (an ``ArrayRecord`` of named arrays) and the
  training settings (a ``ConfigRecord``); each site trains from them on its own rows and answers with its new
  parameters and a ``MetricRecord`` (``num-examples``, ``train-loss``). The strategy averages the parameters
  weighted by ``num-examples`` (FedAvg, FedProx) and may step a server optimiser on the average (FedAdam,
  FedYogi).
* ``evaluate`` (every round): each site scores the global parameters on its own held-out rows and answers with
  a ``MetricRecord`` (``num-examples``, ``eval-loss``).

* ``query`` with ``stage = "hist-..."`` (histogram-aggregated boosting, :mod:`~forewarn.federated.histboost`): the
  site answers with its quantile sketch, then per tree level its gradient and hessian histograms.
* ``query`` with ``stage = "lightgbm"`` (federated boosting, :mod:`~forewarn.federated.trees`): the site answers
  with its own LightGBM booster's model text and its row count.

The server takes every round's answers in site order (``partition-id``), whatever order they arrive in, so a
run's model does not depend on the transport (:func:`serve`).

A site's rows live in one ``.npz`` file that only its ``ClientApp`` opens (:func:`site_file`); the ``ServerApp``
is handed no data path at all, and writes the final parameters and the per-round figures to its output folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.federated import network as net

STRATEGIES = ("fedavg", "fedprox", "fedadam", "fedyogi")
MODELS = ("mlp", "window")
#: the server's answer: global parameters and the per-round record
GLOBAL_FILE = "global.npz"
HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class FedConfig:
    """The server's settings: rounds, strategy, local epochs and the network (sent to sites as config)."""

    sites: int
    rounds: int = 10
    local_epochs: int = 2
    #: at least this many optimiser steps per site and round (more passes over a small site's rows:
    #: :func:`~forewarn.federated.network.epochs_for`); 0 leaves ``local_epochs`` as it is
    min_local_steps: int = 0
    strategy: str = "fedavg"
    proximal_mu: float = 0.01
    server_learning_rate: float = 0.01
    hidden: tuple[int, ...] = (64, 32)
    kind: str = "binary"
    classes: int = 1
    target_scale: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 128
    class_weight: str | None = "sqrt"
    seed: int = 0
    timeout_s: float = 600.0
    #: central differential privacy (Flower's server-side fixed clipping): Gaussian noise of this multiplier
    #: times ``dp_clip`` on the sum of the sites' clipped updates; 0 turns it off
    dp_noise: float = 0.0
    dp_clip: float = 1.0
    #: ``mlp`` (the perceptron of :mod:`~forewarn.federated.network`) or ``window`` (the 1-D CNN over the last
    #: ``window_length`` cycles of ``window_channels`` channels, :mod:`~forewarn.federated.window`; RUL only);
    #: ``window_norm = "local"``: each site standardises with its own figures (FedBN-like, nothing shared)
    model: str = "mlp"
    window_channels: int = 0
    window_length: int = 0
    window_filters: int = 10
    window_kernel: int = 10
    window_layers: int = 4
    window_hidden: int = 100
    window_dropout: float = 0.5
    window_norm: str = "shared"
    #: ``cnn`` (``cnn-rul``'s network) or ``gru`` (:mod:`~forewarn.federated.gru`, ``window_units`` units per
    #: layer, ``window_layers`` layers, the same head; runs in the benchmark, not filed)
    window_arch: str = "cnn"
    window_units: int = 32

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy={self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.sites < 2:
            raise ConfigError(f"sites={self.sites}: federated training needs at least 2 sites")
        if self.rounds < 1 or self.local_epochs < 1:
            raise ConfigError("rounds and local_epochs must be at least 1")
        if self.min_local_steps < 0:
            raise ConfigError(f"min_local_steps={self.min_local_steps} must be >= 0 (0: off)")
        if self.dp_noise < 0 or self.dp_clip <= 0:
            raise ConfigError(f"dp_noise={self.dp_noise} must be >= 0 and dp_clip={self.dp_clip} > 0")
        if self.model not in MODELS:
            raise ConfigError(f"model={self.model!r} is not one of {', '.join(MODELS)}")
        if self.model == "window" and min(self.window_channels, self.window_length) < 1:
            raise ConfigError("the window model needs window_channels and window_length of at least 1")
        if self.window_arch not in ("cnn", "gru"):
            raise ConfigError(f"window_arch={self.window_arch!r} is not one of cnn, gru")
        if self.window_norm not in ("shared", "local"):
            raise ConfigError(f"window_norm={self.window_norm!r} is not one of shared, local")

    def net_spec(self, inputs: int) -> net.NetSpec:
        return net.NetSpec(
            inputs=inputs,
            hidden=tuple(self.hidden),
            kind=self.kind,
            classes=self.classes,
            target_scale=self.target_scale,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            class_weight=self.class_weight,
        )

    def spec(self, inputs: int) -> Any:
        """The network spec for rows of ``inputs`` columns: a :class:`~forewarn.federated.network.NetSpec`, or a
        :class:`~forewarn.federated.window.WindowSpec` for the window model (the columns past the window are its
        static inputs)."""
        if self.model == "mlp":
            return self.net_spec(inputs)
        return spec_from_config(self.train_config(), inputs)  # the very spec each site rebuilds from its config

    def train_config(self) -> dict[str, Any]:
        """What every site is told each round (Flower config values: scalars and lists)."""
        window = {
            "net-model": self.model,
            "num-rounds": self.rounds,
            "window-channels": self.window_channels,
            "window-length": self.window_length,
            "window-filters": self.window_filters,
            "window-kernel": self.window_kernel,
            "window-layers": self.window_layers,
            "window-hidden": self.window_hidden,
            "window-dropout": float(self.window_dropout),
            "window-norm": self.window_norm,
            "window-arch": self.window_arch,
            "window-units": self.window_units,
        }
        return (window if self.model == "window" else {}) | {
            "local-epochs": self.local_epochs,
            "min-local-steps": self.min_local_steps,
            "seed": self.seed,
            "net-hidden": [int(h) for h in self.hidden],
            "net-kind": self.kind,
            "net-classes": self.classes,
            "net-target-scale": float(self.target_scale),
            "net-learning-rate": float(self.learning_rate),
            "net-batch-size": self.batch_size,
            "net-class-weight": self.class_weight or "none",
            "proximal-mu": float(self.proximal_mu) if self.strategy == "fedprox" else 0.0,
        }


def spec_from_config(config: Any, inputs: int) -> Any:
    """The network spec a site rebuilds from the round's ``ConfigRecord``."""
    weight = str(config["net-class-weight"])
    if str(config.get("net-model", "mlp")) == "window":
        from forewarn.federated.window import WindowSpec

        channels, length = int(config["window-channels"]), int(config["window-length"])
        return WindowSpec(
            channels=channels,
            length=length,
            static=inputs - channels * length,
            filters=int(config["window-filters"]),
            kernel=int(config["window-kernel"]),
            n_layers=int(config["window-layers"]),
            hidden=int(config["window-hidden"]),
            dropout=float(config["window-dropout"]),
            learning_rate=float(config["net-learning-rate"]),
            batch_size=int(config["net-batch-size"]),
            target_scale=float(config["net-target-scale"]),
            kind=str(config["net-kind"]),
            arch=str(config.get("window-arch", "cnn")),
            units=int(config.get("window-units", 32)),
        )
    return net.NetSpec(
        inputs=inputs,
        hidden=tuple(int(h) for h in config["net-hidden"]),
        kind=str(config["net-kind"]),
        classes=int(config["net-classes"]),
        target_scale=float(config["net-target-scale"]),
        learning_rate=float(config["net-learning-rate"]),
        batch_size=int(config["net-batch-size"]),
        class_weight=None if weight == "none" else weight,
    )


def kit(spec: Any) -> Any:
    """The module that trains and predicts with ``spec``'s network: :mod:`~forewarn.federated.network` or
    :mod:`~forewarn.federated.window` (the same ``initial``, ``train_local`` and ``predict``)."""
    if isinstance(spec, net.NetSpec):
        return net
    from forewarn.federated import window

    return window


def scaler_for(spec: Any, moments: net.Moments) -> tuple[np.ndarray, np.ndarray]:
    """The shared standardiser from the sites' summed moments (per column; per channel for the window model)."""
    if isinstance(spec, net.NetSpec):
        return moments.scaler()
    from forewarn.federated import window

    return window.scaler_of(spec, moments)


def site_params(params: dict[str, np.ndarray], spec: Any, config: Any, X_train: np.ndarray) -> dict[str, np.ndarray]:
    """The parameters a site works with: as sent, or with its own standardiser (``window-norm = local``)."""
    if isinstance(spec, net.NetSpec) or str(config.get("window-norm", "shared")) != "local":
        return params
    from forewarn.federated import window

    return window.with_scaler(params, window.local_scaler(spec, X_train))


def train_step(
    params: Any,
    spec: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    round_: int,
    rounds: int,
    mu: float = 0.0,
    trainable: tuple[str, ...] | None = None,
    min_steps: int = 0,
) -> tuple[Any, float]:
    """One site's local training of either network (the window model's learning rate follows the round):
    ``epochs`` passes, more where the site's rows take fewer than ``min_steps`` steps (:func:`net.epochs_for`)."""
    epochs = net.epochs_for(len(X), spec.batch_size, epochs, min_steps)
    if isinstance(spec, net.NetSpec):
        return net.train_local(params, spec, X, y, epochs=epochs, seed=seed, mu=mu, trainable=trainable)
    from forewarn.federated import window

    return window.train_local(
        params, spec, X, y, epochs=epochs, seed=seed, mu=mu, trainable=trainable, round_=round_, rounds=rounds
    )  # fmt: skip


# -- a site's data --------------------------------------------------------------------------------------------
def site_file(folder: str | Path, partition: int) -> Path:
    """Where site ``partition``'s rows are: ``<folder>/site-<partition>.npz``."""
    return Path(folder) / f"site-{int(partition)}.npz"


def write_site(path: Path, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> Path:
    """Write one site's training and held-out rows (plain arrays; read back without pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    return path


def write_sites(folder: str | Path, sites: Any) -> list[Path]:
    """Write every site's rows (objects with ``X_train, y_train, X_test, y_test``, e.g.
    :class:`~forewarn.federated.simulate.SiteRows`) to :func:`site_file` ``(folder, i)``, a site without held-out
    rows given an empty test matrix of its width; returns the files in site order."""
    files = []
    for i, site in enumerate(sites):
        X_test = site.X_test if site.X_test.size else np.empty((0, site.X_train.shape[1]))
        files.append(write_site(site_file(folder, i), site.X_train, site.y_train, X_test, site.y_test))
    return files


def read_site(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataNotFoundError(f"site data {str(path)!r} does not exist")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# -- ClientApp ------------------------------------------------------------------------------------------------
def client_app(data_folder: str | None = None) -> Any:
    """A ``ClientApp`` whose site reads ``site-<partition-id>.npz`` under ``data_folder`` (simulation), or the
    file its node config names (``data-file``, deployment)."""
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    def rows(context: Context) -> dict[str, np.ndarray]:
        if "data-file" in context.node_config:
            return read_site(Path(str(context.node_config["data-file"])))
        if data_folder is None:
            raise ConfigError("the site has no data: pass data-file in its node config")
        return read_site(site_file(data_folder, int(context.node_config["partition-id"])))

    def arrays_of(message: Message) -> dict[str, np.ndarray]:
        """The network's layers (the ``ArrayRecord``) and the shared standardiser (the round's config)."""
        record: Any = message.content["arrays"]
        config: Any = message.content["config"]
        params = {k: v.numpy() for k, v in record.items()}
        params["scaler.mean"] = np.asarray(config["scaler-mean"], dtype="float64")
        params["scaler.scale"] = np.asarray(config["scaler-scale"], dtype="float64")
        return params

    @app.query()  # type: ignore[untyped-decorator,unused-ignore]
    def moments(message: Message, context: Context) -> Message:
        data = rows(context)
        config: Any = message.content["config"]
        if str(config.get("stage", "moments")) == "lightgbm":  # federated boosting: the site's trees
            from forewarn.federated import trees

            settings = ConfigRecord(dict(config) | {"site-index": _site_id(context)})
            booster, count = trees.site_answer(data, settings)
            reply = RecordDict(
                {
                    "arrays": ArrayRecord({"booster": _array(booster)}),
                    "metrics": MetricRecord({"num-examples": count, "site-index": _site_id(context)}),
                }
            )
            return Message(content=reply, reply_to=message)
        if str(config.get("stage", "moments")).startswith("hist-"):  # histogram-aggregated boosting
            from forewarn.federated import histboost

            record: Any = message.content.get("arrays", ArrayRecord())
            sent = {k: v.numpy() for k, v in record.items()}
            answer = histboost.site_reply(data, config, sent, context.state)
            reply = RecordDict(
                {
                    "arrays": ArrayRecord({k: _array(v) for k, v in answer.items()}),
                    "metrics": MetricRecord({"num-examples": len(data["X_train"]), "site-index": _site_id(context)}),
                }
            )
            return Message(content=reply, reply_to=message)
        m = net.Moments.of(data["X_train"])
        content = RecordDict(
            {
                "arrays": ArrayRecord(
                    {"count": _array(m.count), "total": _array(m.total), "squares": _array(m.squares)}
                ),
                "metrics": MetricRecord({"num-examples": len(data["X_train"]), "site-index": _site_id(context)}),
            }
        )
        return Message(content=content, reply_to=message)

    @app.train()  # type: ignore[untyped-decorator,unused-ignore]
    def train(message: Message, context: Context) -> Message:
        data = rows(context)
        config: Any = message.content["config"]
        spec = spec_from_config(config, data["X_train"].shape[1])
        params = site_params(arrays_of(message), spec, config, data["X_train"])
        seed = int(config["seed"]) * 100_003 + int(config["server-round"]) * 101 + _site_id(context)
        updated, loss = train_step(
            params,
            spec,
            data["X_train"],
            data["y_train"],
            epochs=int(config["local-epochs"]),
            seed=seed,
            round_=int(config["server-round"]),
            rounds=int(config.get("num-rounds", 1)),
            mu=float(config.get("proximal-mu", 0.0)),
            min_steps=int(config.get("min-local-steps", 0)),
        )
        content = RecordDict(
            {
                "arrays": ArrayRecord({k: _array(v) for k, v in updated.items() if not k.startswith("scaler.")}),
                "metrics": MetricRecord({"num-examples": len(data["X_train"]), "train-loss": float(loss)}),
            }
        )
        return Message(content=content, reply_to=message)

    @app.evaluate()  # type: ignore[untyped-decorator,unused-ignore]
    def evaluate(message: Message, context: Context) -> Message:
        data = rows(context)
        config: Any = message.content["config"]
        spec = spec_from_config(config, data["X_test"].shape[1])
        params = site_params(arrays_of(message), spec, config, data["X_train"])
        metrics: dict[str, Any] = {"num-examples": max(len(data["X_test"]), 1), "eval-loss": _loss(params, spec, data)}
        return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=message)

    return app


def _site_id(context: Any) -> int:
    return int(context.node_config.get("partition-id", context.node_config.get("site-index", 0)))


def _array(values: np.ndarray) -> Any:
    from flwr.app import Array

    return Array(np.ascontiguousarray(values))


def _loss(params: dict[str, np.ndarray], spec: Any, data: dict[str, np.ndarray]) -> float:
    """The site's held-out loss of the global parameters (log loss, or MSE of the scaled target)."""
    X, y = data["X_test"], data["y_test"]
    if len(X) == 0:
        return 0.0
    p = kit(spec).predict(params, spec, X)
    if spec.kind == "regression":
        scale = spec.target_scale
        return float(np.mean((np.minimum(y, scale) / scale - p / scale) ** 2))
    if spec.kind == "binary":
        q = np.clip(p, 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    chosen = np.clip(p[np.arange(len(y)), y.astype(int)], 1e-7, 1.0)
    return float(-np.mean(np.log(chosen)))


# -- ServerApp ------------------------------------------------------------------------------------------------
def server_app(config: FedConfig, out_folder: str) -> Any:
    """A ``ServerApp`` that builds the standardiser from the sites' moments, runs the strategy for
    ``config.rounds`` rounds, and writes :data:`GLOBAL_FILE` and :data:`HISTORY_FILE` to ``out_folder``."""
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()  # type: ignore[untyped-decorator,unused-ignore]
    def main(grid: Grid, context: Context) -> None:
        serve(grid, config, out_folder)

    return app


def query_sites(grid: Any, nodes: Sequence[int], content: Callable[[], Any], timeout: float, what: str) -> list[Any]:
    """Send each of ``nodes`` a QUERY message with its own ``content()`` (a fresh ``RecordDict``: a mod may edit
    what it receives) and return the replies as they arrive; a node that did not answer, or answered with an
    error, stops the run with :class:`~forewarn.exceptions.DataNotFoundError` naming ``what`` was asked."""
    from flwr.app import Message, MessageType

    query = [Message(content=content(), message_type=MessageType.QUERY, dst_node_id=n) for n in nodes]
    replies = list(grid.send_and_receive(query, timeout=timeout))
    errors = [r.error.reason for r in replies if r.has_error()]
    if errors or len(replies) != len(nodes):
        raise DataNotFoundError(f"{len(nodes) - len(replies)} site(s) did not answer {what}: {errors}")
    return replies


def serve(grid: Any, config: FedConfig, out_folder: str | Path) -> None:
    """The server's work on ``grid`` (any transport: in-process, simulation engine, SuperLink).

    Every site's answers are taken in the order of its site index (``partition-id``), not in the order they
    arrive: Flower's FedAvg adds the float32 updates one after another, and a different order of addition gives
    a different global model in the last bits, which twenty rounds of training turn into the fourth digit. So the
    same data and seeds give the same model on every transport."""
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    started = time.perf_counter()
    nodes = _wait_for_nodes(grid, config.sites, config.timeout_s)
    replies = query_sites(
        grid, nodes, lambda: RecordDict({"config": ConfigRecord({"stage": "moments"})}), config.timeout_s,
        "the moments query",
    )  # fmt: skip
    order = {int(r.metadata.src_node_id): int(r.content["metrics"].get("site-index", 0)) for r in replies}
    if len(set(order.values())) != len(order):
        raise ConfigError(f"two sites gave the same site index (partition-id): {sorted(order.values())}")
    ordered = _InOrder(grid, order)
    ordered.note(replies)
    total: net.Moments | None = None
    for reply in ordered.sort(replies):
        arrays: Any = reply.content["arrays"]
        m = net.Moments(arrays["count"].numpy(), arrays["total"].numpy(), arrays["squares"].numpy())
        total = m if total is None else total + m
    assert total is not None
    spec = config.spec(len(total.count))
    params = kit(spec).initial(spec, scaler_for(spec, total), config.seed)
    strategy = _strategy(config)
    # the layers are what the strategy averages (and a DP wrapper clips and noises); the standardiser is
    # fixed and travels in the round's config
    layers = {k: v for k, v in params.items() if not k.startswith("scaler.")}
    scaler = {"scaler-mean": params["scaler.mean"].tolist(), "scaler-scale": params["scaler.scale"].tolist()}
    result = strategy.start(
        grid=ordered,
        initial_arrays=ArrayRecord({k: _array(v) for k, v in layers.items()}),
        num_rounds=config.rounds,
        timeout=config.timeout_s,
        train_config=ConfigRecord(config.train_config() | scaler),
        evaluate_config=ConfigRecord(config.train_config() | scaler),
    )
    final = {k: v.numpy() for k, v in result.arrays.items()}
    final["scaler.mean"], final["scaler.scale"] = params["scaler.mean"], params["scaler.scale"]
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    model_bytes = int(sum(v.nbytes for v in layers.values()))
    scaler_bytes = int(params["scaler.mean"].nbytes + params["scaler.scale"].nbytes)
    history = {
        "config": asdict(config),
        "inputs": int(spec.inputs),
        "rounds": config.rounds,
        "sites": len(nodes),
        "site_order": [order[n] for n in sorted(order, key=order.__getitem__)],
        # per site: the layers out and back (train), out again (evaluate), the standardiser in both configs
        "bytes_per_round": (3 * model_bytes + 2 * scaler_bytes) * len(nodes),
        "moments_bytes": int(3 * total.count.nbytes * len(nodes)),
        "train": {str(r): dict(m) for r, m in result.train_metrics_clientapp.items()},
        "evaluate": {str(r): dict(m) for r, m in result.evaluate_metrics_clientapp.items()},
        "replies": ordered.replies,
        "server_seconds": round(time.perf_counter() - started, 3),
    }
    # the record first, the model last: a watcher that sees the model file sees a complete run
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=2, default=float), encoding="utf-8")
    np.savez(out / (GLOBAL_FILE + ".part.npz"), **final)
    (out / (GLOBAL_FILE + ".part.npz")).replace(out / GLOBAL_FILE)


class _InOrder:
    """A Grid seen through: ``send_and_receive`` returns the replies sorted by the sender's site index and counts,
    per message type, the replies from each site (the record shows every site answered in every round)."""

    def __init__(self, grid: Any, order: dict[int, int]):
        self._grid = grid
        self._order = order
        self.replies: dict[str, dict[str, int]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)

    def sort(self, replies: list[Any]) -> list[Any]:
        return sorted(replies, key=lambda r: self._order.get(int(r.metadata.src_node_id), 1 << 62))

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> Any:
        return self.note(self.sort(list(self._grid.send_and_receive(messages, timeout=timeout))))

    def note(self, replies: list[Any]) -> list[Any]:
        for r in replies:
            kind = str(r.metadata.message_type).split(".")[0]
            site = str(self._order.get(int(r.metadata.src_node_id), -1))
            counts = self.replies.setdefault(kind, {})
            counts[site] = counts.get(site, 0) + (0 if r.has_error() else 1)
        return replies


def _wait_for_nodes(grid: Any, wanted: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= wanted:
            return nodes[:wanted] if len(nodes) > wanted else nodes
        if time.monotonic() > deadline:
            raise DataNotFoundError(f"only {len(nodes)} of {wanted} sites connected within {timeout:.0f} s")
        time.sleep(0.2)


def _strategy(config: FedConfig) -> Any:
    from flwr.serverapp import strategy as st

    common: dict[str, Any] = {
        "fraction_train": 1.0,
        "fraction_evaluate": 1.0,
        "min_train_nodes": config.sites,
        "min_evaluate_nodes": config.sites,
        "min_available_nodes": config.sites,
    }
    chosen: Any
    if config.strategy == "fedprox":
        chosen = st.FedProx(proximal_mu=config.proximal_mu, **common)
    elif config.strategy == "fedadam":
        chosen = st.FedAdam(eta=config.server_learning_rate, **common)
    elif config.strategy == "fedyogi":
        chosen = st.FedYogi(eta=config.server_learning_rate, **common)
    else:
        chosen = st.FedAvg(**common)
    if config.dp_noise > 0:
        return st.DifferentialPrivacyServerSideFixedClipping(
            chosen, noise_multiplier=config.dp_noise, clipping_norm=config.dp_clip, num_sampled_clients=config.sites
        )
    return chosen
