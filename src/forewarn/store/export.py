"""Exporting readings as a hive-partitioned Parquet data set (the layout a Ray cluster reads).

Layout: ``<out_dir>/site_id=<site>/asset_id=<asset>/date=<YYYY-MM-DD>/data_0.parquet``; the dates are UTC
days. Each file holds ``ts, channel, value`` sorted by ``ts``; the partition keys live in the folder names
(``pyarrow.dataset.dataset(out_dir, partitioning="hive")`` and ``ray.data.read_parquet`` add them back).
Odd characters in ids are percent-encoded in folder names, and an asset without a site goes under
``site_id=__HIVE_DEFAULT_PARTITION__`` (DuckDB's way of writing a null key), which hive readers read as null.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from forewarn.exceptions import ConfigError
from forewarn.store.queries import time_filter
from forewarn.store.tables import quote_literal


def export_parquet(
    con: duckdb.DuckDBPyConnection, out_dir: str | os.PathLike[str], *, start: object = None, end: object = None
) -> list[Path]:
    """Write readings in ``[start, end)`` under ``out_dir`` (missing or empty) and return the files written."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"export folder {str(out)!r} is not an empty folder; choose a new or empty folder "
            "so that an export never mixes with older files"
        )
    out.mkdir(parents=True, exist_ok=True)
    where = time_filter("r.ts", start, end)
    con.execute(f"""
        COPY (
            SELECT a.site_id, c.asset_id,
                   strftime(r.ts, '%Y-%m-%d') AS date, r.ts, c.channel, r.value
            FROM reading_values r JOIN channels c USING (series_id) JOIN assets a USING (asset_id)
            WHERE {where}
            ORDER BY c.asset_id, r.ts, c.channel
        ) TO {quote_literal(str(out))} (FORMAT parquet, PARTITION_BY (site_id, asset_id, date),
                                         OVERWRITE_OR_IGNORE true)""")
    return sorted(out.rglob("*.parquet"))
