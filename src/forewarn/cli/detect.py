"""``forewarn detect INPUT.csv --out SCORES.csv``: score any export of a timestamp and numeric columns.

Thin layer over :func:`forewarn.detect.detect_file`; the lead wires :func:`register` into the main app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: :data:`forewarn.detect.DEFAULT_DETECTOR`, spelled out so that ``--help`` does not import numpy and pandas
#: (a test keeps the two equal)
DEFAULT_DETECTOR = "var-residual"


def register(app: typer.Typer) -> None:
    """Add ``detect`` to ``app``."""
    app.command()(detect)


def detect(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT.csv", help="CSV (',' or ';') with a timestamp column and numeric columns.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write timestamp,anomaly_score.")],
    detector: Annotated[str, typer.Option(help="Registered anomaly detector (see the model registry).")] = (
        DEFAULT_DETECTOR
    ),
    train_fraction: Annotated[
        float, typer.Option(help="Leading share of the rows, in time order, that the detector learns as normal.")
    ] = 0.15,
    smooth: Annotated[int, typer.Option(min=1, help="Trailing mean over this many rows (1: no smoothing).")] = 10,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Numeric column to leave out (repeatable), e.g. a label column.")
    ] = None,
    timestamp_column: Annotated[
        str | None, typer.Option(help="Timestamp column (default: found by name or format).")
    ] = None,
) -> None:
    """Score every row for how unusual it is (0 = like the training part, above 0.5 = beyond its alarm level).

    The detector learns the first part of the file and scores each row using only that row and earlier
    ones, so scores do not change when later rows arrive.
    """
    from forewarn.detect import detect_file

    result = detect_file(
        input_path,
        out,
        detector=detector,
        train_fraction=train_fraction,
        smooth=smooth,
        exclude=tuple(exclude or ()),
        timestamp_column=timestamp_column,
    )
    scores = result.scores
    top = int(scores["anomaly_score"].to_numpy().argmax())
    typer.echo(
        f"scored {len(scores)} rows of {len(result.features)} column(s) with {result.detector} "
        f"(trained on the first {result.n_train} rows); {result.alarms} row(s) above 0.5; highest "
        f"{scores['anomaly_score'].iloc[top]:.3f} at {scores['timestamp'].iloc[top]}"
    )
    if result.dropped:
        typer.echo(f"dropped column(s) without values in the training rows: {', '.join(result.dropped)}")
    typer.echo(f"scores: {out}")
