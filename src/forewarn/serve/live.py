"""The plant and the live models as the service sees them: the asset table, which bundle scores an asset, and the
thresholds in force (the bundle's own, or a cost table the operator set)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import pandas as pd

from forewarn.bundles.bundle import Bundle
from forewarn.bundles.registry import ModelRegistry
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.exceptions import DataNotFoundError
from forewarn.serve.answers import AssetInfo
from forewarn.store import Store

Costs = Mapping[str, Mapping[str, float]]


class Plant:
    """The asset table, read once and again after an ingest may have created assets (thread-safe)."""

    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.Lock()
        self._table: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """Every asset, indexed by ``asset_id``."""
        table = self._table
        if table is None:
            with self._lock:
                if self._table is None:
                    self._table = self.store.assets().set_index("asset_id", drop=False)
                table = self._table
        return table

    def info(self, asset_id: str) -> AssetInfo:
        """Where an asset sits; an unknown asset raises :class:`~forewarn.exceptions.DataNotFoundError`."""
        table = self.table()
        if asset_id not in table.index:  # created since the table was read (another process, on a shared store)?
            self.changed()
            table = self.table()
        if asset_id not in table.index:
            raise DataNotFoundError(f"unknown asset {asset_id!r}; GET /api/v1/assets lists the known ones")
        row = table.loc[asset_id]
        return {
            "asset_id": asset_id,
            "asset_class": str(row["asset_class"]),
            "site_id": None if pd.isna(row["site_id"]) else str(row["site_id"]),
            "line_id": None if pd.isna(row["line_id"]) else str(row["line_id"]),
            "name": str(row["name"]),
        }

    def changed(self) -> None:
        """Assets may have been added: read the table again next time."""
        with self._lock:
            self._table = None


class LiveModels:
    """Which bundle scores an asset class, and the threshold policy of a bundle.

    ``model_id``: the model that scores health (default: the first that serves the asset's class); ``costs``: a
    cost table per asset class that overrides the bundle's own.
    """

    def __init__(self, registry: ModelRegistry | None, *, model_id: str | None = None, costs: Costs | None = None):
        self.registry = registry
        self.model_id = model_id
        self.costs = costs

    def bundle_for(self, asset_class: str | None = None, model_id: str | None = None) -> Bundle:
        """The live bundle that scores ``asset_class`` (the configured model id, else the first that fits)."""
        if self.registry is None:
            raise DataNotFoundError("no models folder is configured; start the service with --models DIR")
        if model_id is None:
            model_id = self.model_id
        if model_id is not None:
            return self.registry.bundle(model_id)
        ids = self.registry.model_ids()
        if not ids:
            raise DataNotFoundError(f"the models folder {str(self.registry.root)!r} holds no servable model")
        for candidate in ids:
            bundle = self.registry.bundle(candidate)
            if not bundle.spec.asset_classes or asset_class in bundle.spec.asset_classes:
                return bundle
        raise DataNotFoundError(f"no model serves asset class {asset_class!r}; models: {', '.join(ids)}")

    def thresholds(self, bundle: Bundle) -> ThresholdPolicy:
        """The operator's cost table when one is set, else the bundle's thresholds."""
        return ThresholdPolicy.from_mapping(self.costs) if self.costs else bundle.thresholds

    def active_version(self, model_id: str) -> str:
        """The live version of a model now (no model loaded)."""
        assert self.registry is not None  # only asked about a model that answered before
        return self.registry.active_version(model_id)
