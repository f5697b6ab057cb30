"""The service's asset table: an asset another process created since the table was read is found, not a 404."""

import pandas as pd
import pytest

from forewarn.exceptions import DataNotFoundError
from forewarn.schema import Asset
from forewarn.serve.live import Plant
from forewarn.store import Store


def test_an_asset_created_after_the_table_was_read_is_found() -> None:
    with Store() as store:
        store.ingest_readings(pd.DataFrame({"asset_id": "P-1", "ts": ["2024-01-01"], "t": [1.0]}))
        plant = Plant(store)
        assert list(plant.table().index) == ["P-1"]
        store.add_assets([Asset("P-2", asset_class="pump")])  # as a stream on a shared store declares one
        assert plant.info("P-2")["asset_class"] == "pump"
        with pytest.raises(DataNotFoundError, match="unknown asset 'P-3'"):
            plant.info("P-3")
