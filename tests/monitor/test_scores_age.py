"""The monitor scores a model that reads the age since renewal with the age the service gives it (not NaN)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import ServingSpec
from forewarn.monitor.runner import _scores


class _AgeEcho:
    """A stand-in bundle whose probability is the age column it was handed (what the test checks)."""

    def __init__(self) -> None:
        self.spec = ServingSpec(channels=("t",), window=2, stats=("mean",), age_feature="age_h")
        self.feature_names = self.spec.feature_names
        self.seen: pd.DataFrame | None = None

    def predict(self, X: pd.DataFrame) -> SimpleNamespace:
        self.seen = X
        return SimpleNamespace(probability=X["age_h"].to_numpy())


def test_an_age_model_is_scored_with_the_age_since_the_last_renewal() -> None:
    ts = pd.date_range("2024-01-01", periods=4, freq="6h", tz="UTC")
    frame = pd.DataFrame({"asset_id": "P-1", "ts": ts, "t": [1.0, 2.0, 3.0, 4.0]})
    events = pd.DataFrame(
        {"asset_id": ["P-1"], "kind": ["maintenance"], "action": ["replace_bearing"], "result": ["planned"],
         "ts": [pd.Timestamp("2023-12-31 18:00", tz="UTC")]}
    )  # fmt: skip
    bundle = _AgeEcho()
    out = _scores(bundle, frame, ts[1], "pump", events)
    np.testing.assert_allclose(out["p"], [12.0, 18.0, 24.0])  # hours since the renewal, rows from ts[1] on
    assert bundle.seen is not None and list(bundle.seen.columns) == ["t__mean", "age_h"]
    assert out["t__mean"].tolist() == [1.5, 2.5, 3.5]
