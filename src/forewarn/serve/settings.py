"""Settings of the Forewarn service (``forewarn serve`` flags, or environment variables).

There is no default secret: write endpoints need ``token`` (``FOREWARN_API_TOKEN``); without one the service
still serves reads and refuses every write with 403 and a message saying how to enable writes.

>>> s = ServeSettings(store=":memory:", models=None, token="s3cret-token-123")
>>> s.cors_origins, s.max_body_bytes
((), 8388608)
>>> ServeSettings(store=":memory:", token="short").token
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: the API token is too short (5 characters); use at least 12 random characters
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from forewarn.decide.quiet import close_quiet_setting
from forewarn.exceptions import ConfigError

TOKEN_ENV = "FOREWARN_API_TOKEN"
CORS_ENV = "FOREWARN_CORS_ORIGINS"
MIN_TOKEN_LENGTH = 12


@dataclass(frozen=True)
class ServeSettings:
    """Everything :func:`forewarn.serve.api.app.create_app` needs.

    ``store``: the DuckDB store file (or ``":memory:"``); ``models``: the models folder (see
    :mod:`forewarn.bundles.registry`; ``None`` serves no predictions); ``cases``: the case-book file (default:
    beside the store); ``model_id``: the model that scores health (default: the first one);
    ``costs``: a cost table per asset class that overrides the one in the model's bundle; ``stream``: a
    ``forewarn stream`` TOML config whose MQTT / OPC UA connector runs inside the service, on its store
    (see :meth:`forewarn.serve.service.HealthService.attach_stream`); ``otel``: let FastAPI's native OpenTelemetry
    (spans and metrics per request) report to the OpenTelemetry providers the process configures; off by default,
    since the service exports its own Prometheus metrics at ``/metrics`` and the check costs every request;
    ``what_if_concurrency``: how many what-if runs of the digital twin (seconds of CPU each) may run at once, beyond
    which a request is answered 429 with ``Retry-After``; ``close_quiet``: the case rule's gap, as people write it
    (``"7d"``, ``"36h"``, ``"0"`` = never; ``None``: the horizon of the model that scores health when it is in hours,
    else 7 days; see :mod:`forewarn.serve.cases`).
    """

    store: str = ":memory:"
    models: str | None = None
    token: str | None = None
    cases: str | None = None
    model_id: str | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    costs: Mapping[str, Mapping[str, float]] | None = None
    alert_min_consecutive: int = 1
    alert_clear_ratio: float = 0.8
    alert_cooldown: str = "24h"
    evaluate_on_start: bool = True
    max_batch_rows: int = 1_000_000
    stream: str | None = None
    otel: bool = False
    what_if_concurrency: int = 1
    close_quiet: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"the API token is too short ({len(self.token)} characters); use at least "
                f"{MIN_TOKEN_LENGTH} random characters"
            )
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, got {self.max_body_bytes}")
        if not 0.0 < self.alert_clear_ratio <= 1.0:
            raise ConfigError(f"alert_clear_ratio must be in (0, 1], got {self.alert_clear_ratio}")
        if self.what_if_concurrency < 1:
            raise ConfigError(f"what_if_concurrency must be at least 1, got {self.what_if_concurrency}")
        if self.close_quiet is not None:
            close_quiet_setting(self.close_quiet)  # a bad span stops the start, naming the setting
        if self.models is not None:
            refuse_detect_fits(self.models)
        if "*" in self.cors_origins:
            raise ConfigError("CORS origin '*' is refused: list the dashboard origins that may call the API")

    @classmethod
    def from_env(cls, **values: Any) -> ServeSettings:
        """Settings from keyword values, with the token and CORS origins from the environment when not given."""
        if values.get("token") is None and os.environ.get(TOKEN_ENV):
            values["token"] = os.environ[TOKEN_ENV]
        if not values.get("cors_origins") and os.environ.get(CORS_ENV):
            values["cors_origins"] = tuple(o.strip() for o in os.environ[CORS_ENV].split(",") if o.strip())
        return cls(**values)

    def with_(self, **changes: Any) -> ServeSettings:
        return replace(self, **changes)


def refuse_detect_fits(models: str | os.PathLike[str]) -> None:
    """Refuse, in one line, a models folder that holds ``forewarn detect --save-models`` fits (its index file, in the
    folder or a folder of it) instead of model bundles: ``serve --models`` scores health with bundles (``forewarn
    train``); detect's fits score a stream of readings with each asset's alarm state, which ``serve --stream`` runs,
    or batches of readings with ``forewarn detect --store DB --models DIR --cases``, which files their alarms into the
    case book the service lists. The line gives the config's ``[[models]]`` entry and that command.

    >>> import tempfile
    >>> fits = Path(tempfile.mkdtemp())
    >>> _ = (fits / "detect-fits.json").write_text("{}")
    >>> refuse_detect_fits(fits)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: models folder '...' holds the fits of 'forewarn detect --save-models' (...
    """
    from forewarn.detect.saved import INDEX_FILE, models_entry

    root = Path(models)
    if not root.is_dir():
        return
    found = [root] if (root / INDEX_FILE).is_file() else sorted(p.parent for p in root.glob(f"*/{INDEX_FILE}"))
    if found:
        entry = " ".join(models_entry(found[0]).splitlines()[1:])
        raise ConfigError(
            f"models folder {str(root)!r} holds the fits of 'forewarn detect --save-models' ({found[0] / INDEX_FILE}), "
            "not model bundles of 'forewarn train': serve them with 'forewarn serve --stream CONFIG', the config "
            f"holding the entry [[models]] {entry} (the readings then come by MQTT or OPC UA and each asset is scored "
            "with its own fit as they arrive); or, for readings loaded in batches (forewarn ingest), file detect's "
            f"alarms into the store's case book with 'forewarn detect --store DB --models {found[0]} --cases' after "
            "each load and serve the store without --models: the dashboard lists their cases"
        )


def read_costs(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """A cost table from a TOML file: one table per asset class (``[pump]``, ``[default]``...)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"cost file {str(file)!r} does not exist")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"cost file {str(file)!r} is not valid TOML: {err}") from None
    return {str(k): dict(v) for k, v in data.items()}
