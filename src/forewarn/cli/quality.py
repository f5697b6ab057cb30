"""``forewarn quality train|inspect|spc``: defect vision, inspection decisions and statistical process control.

>>> import typer
>>> from typer.testing import CliRunner
>>> app = typer.Typer()
>>> register(app)
>>> all(word in CliRunner().invoke(app, ["quality", "--help"]).output for word in ("train", "inspect", "spc"))
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.exceptions import ConfigError, ForewarnError, SchemaError

quality_app = typer.Typer(help="Quality control: defect vision, inspection decisions, SPC.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``quality`` sub-app to ``app``."""
    app.add_typer(quality_app, name="quality")


@quality_app.command()
def train(
    out: Annotated[Path, typer.Option(help="Folder to write the model into (manifest.json, model.pt).")],
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory holding neu_det/ (or FOREWARN_DATA_DIR).")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 30,
    size: Annotated[int, typer.Option(min=16, help="Input side in pixels (images are resized).")] = 128,
    width: Annotated[int, typer.Option(min=1, help="Channels of the first block (doubling per block).")] = 16,
    stem: Annotated[int, typer.Option(min=1, max=4, help="Stride of the first convolution.")] = 2,
    loc_weight: Annotated[
        float, typer.Option(min=0.0, help="Weight of the localisation head's box-mask loss (0: no head).")
    ] = 1.0,
    tta: Annotated[bool, typer.Option(help="Average the probabilities over the image and its flips.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the split and the network.")] = 0,
    holdout: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of each class held out to test.")] = 0.2,
    reviews: Annotated[
        str | None,
        typer.Option(
            help="Review queue whose reviewed units are added as training labels: its DuckDB file, or the "
            "PostgreSQL store URL that holds it (postgresql://...)."
        ),
    ] = None,
    limit_per_class: Annotated[
        int | None, typer.Option(min=2, help="Use only the first N images of each class.")
    ] = None,
    unsupervised: Annotated[
        bool,
        typer.Option(
            "--unsupervised",
            help="Fit the texture novelty detector on --good-images instead of training the CNN (for lines with "
            "good images only); it is written beside any model already in --out.",
        ),
    ] = False,
    good_images: Annotated[
        Path | None, typer.Option(help="Folder of good images (JPEG, PNG, BMP, TIFF) for --unsupervised.")
    ] = None,
    texture_size: Annotated[
        int, typer.Option(min=16, help="Side (px) the good images are resized to for --unsupervised.")
    ] = 200,
) -> None:
    """Train the defect CNN on NEU-DET (plus reviewed units) and report accuracy on a stratified hold-out.

    With --unsupervised, fit the texture novelty detector (forewarn.quality.texture) on a folder of good images
    instead and write it as texture.npz into --out; `forewarn quality inspect` then scores each image's novelty.
    """
    if unsupervised:
        _train_texture(out, good_images, texture_size)
        return
    if good_images is not None:
        raise ConfigError("--good-images is for --unsupervised (the CNN trains on NEU-DET and reviewed units)")
    import numpy as np

    from forewarn.bench.neu import box_masks, stratified_split
    from forewarn.datasets.neu import CLASSES, NEUData, load_neu
    from forewarn.evaluate.classification import multiclass_metrics
    from forewarn.quality.images import decode_many
    from forewarn.quality.review import ReviewQueue
    from forewarn.quality.vision import DefectClassifier
    from forewarn.store.pg_sql import is_postgres_url

    if reviews is not None and not is_postgres_url(reviews) and not Path(reviews).is_file():
        raise ConfigError(f"review queue {reviews!r} does not exist")  # before the images are read
    data = load_neu(data_dir)
    if limit_per_class is not None:
        data = NEUData([im for c in CLASSES for im in [i for i in data.images if i.label == c][:limit_per_class]])
    paths: list[Any] = list(data.image_paths)
    labels = list(data.labels)
    if reviews is not None:
        queue = ReviewQueue(reviews)
        extra = queue.labelled()
        queue.close()
        paths += [Path(p) for p in extra["image"]]
        labels += list(extra["label"])
    images = decode_many(paths, size)
    y = np.asarray(labels)
    if holdout > 0:
        tr, te = stratified_split(y, seed, holdout)
    else:
        tr, te = np.arange(len(y)), np.arange(0)
    model = DefectClassifier(size=size, width=width, stem=stem, loc_weight=loc_weight, tta=tta, epochs=epochs,
                             seed=seed)  # fmt: skip
    masks = None
    if loc_weight > 0:  # NEU images train the head on their boxes; reviewed units (no boxes) do not
        unknown = np.full((len(paths) - len(data.images), size, size), np.nan, dtype=np.float32)
        masks = np.concatenate([box_masks(data, np.arange(len(data.images)), size), unknown])[tr]
    model.fit(images[tr], y[tr], masks=masks, progress=lambda message: typer.echo(message, err=True))
    metrics = multiclass_metrics(y[te], model.predict(images[te])) if len(te) else {}
    model.save(out, metrics={**metrics, "train_images": int(len(tr)), "test_images": int(len(te))})
    typer.echo(json.dumps({"model": str(out), **metrics, "train_images": int(len(tr)), "test_images": int(len(te))}))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _train_texture(out: Path, good_images: Path | None, size: int) -> None:
    from threadpoolctl import threadpool_limits

    from forewarn.quality.images import decode_many
    from forewarn.quality.texture import TextureDetector

    if good_images is None:
        raise ConfigError("--unsupervised needs --good-images: a folder of images of good units")
    if not good_images.is_dir():
        raise ConfigError(f"--good-images {str(good_images)!r} is not a folder")
    files = sorted(p for p in good_images.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < 2:
        raise ConfigError(
            f"--good-images {str(good_images)!r} holds {len(files)} image(s) ({', '.join(IMAGE_SUFFIXES)}): "
            "the detector needs at least 2 good images"
        )
    with threadpool_limits(limits=1):  # a small model: one BLAS thread (the machine is shared)
        detector = TextureDetector().fit(decode_many(files, size))  # an unreadable file: SchemaError naming it
    path = detector.save(out, size=size)
    typer.echo(json.dumps({"model": str(out), "detector": str(path), "good_images": len(files), "size": size}))


def _novelty(detector: Any, side: int, images: list[Path]) -> list[float]:
    from threadpoolctl import threadpool_limits

    from forewarn.quality.images import decode_many

    with threadpool_limits(limits=1):
        scores = detector.score(decode_many(images, side))
    return [float(s) for s in scores]


@quality_app.command()
def inspect(
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG) of inspected units.")],
    model: Annotated[Path, typer.Option(help="Model folder written by `forewarn quality train`.")],
    good_class: Annotated[
        str | None, typer.Option(help="The model's class meaning 'no defect' (probability of defect = 1 - its).")
    ] = None,
    line: Annotated[str, typer.Option(help="Production line of these units.")] = "line-1",
    queue: Annotated[Path | None, typer.Option(help="Review queue (DuckDB) to log the units into.")] = None,
    scrap: Annotated[float, typer.Option(help="Cost of scrapping a good unit.")] = 5.0,
    review: Annotated[float, typer.Option(help="Cost of one manual review.")] = 1.0,
    escape: Annotated[float, typer.Option(help="Cost of a defect that escapes.")] = 2.0,
    novelty_threshold: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Novelty score above which a unit is flagged novel (1: farther from the good images than 95 % "
            "of them were from the rest); used when the model folder holds a texture detector.",
        ),
    ] = 1.0,
) -> None:
    """Classify images, decide reject/review/pass from costs, and log them (one JSON line per image).

    Without --good-class every class of the model is a defect type, so the defect probability is 1 and the
    decision follows the costs for a certain defect. When the model folder holds a texture detector
    (`train --unsupervised`), each line adds novelty_score and novel (score > --novelty-threshold), and a novel
    unit the classifier would pass goes to review; with the detector alone, novel units go to review and the rest
    pass (no defect probability, so no --queue).
    """
    from forewarn.quality.decisions import InspectionCosts, thresholds
    from forewarn.quality.images import decode_many
    from forewarn.quality.inspection import add_novelty, inspection_records
    from forewarn.quality.review import ReviewQueue
    from forewarn.quality.texture import TEXTURE_FILE, TextureDetector
    from forewarn.quality.vision import DefectClassifier

    has_texture, has_cnn = (model / TEXTURE_FILE).is_file(), (model / "manifest.json").is_file()
    if not has_texture and not has_cnn:
        raise ConfigError(
            f"--model {str(model)!r} holds neither a classifier (manifest.json, model.pt) nor a texture detector "
            f"({TEXTURE_FILE}): run `forewarn quality train` first"
        )
    novelty: list[float] | None = None
    if has_texture:
        detector, side = TextureDetector.load(model)
        novelty = _novelty(detector, side, images)
    if not has_cnn:
        if queue is not None or good_class is not None:
            raise ConfigError(
                f"--model {str(model)!r} holds only a texture detector: --queue and --good-class need a classifier "
                "(a novelty score is not a defect probability)"
            )
        units = [{"image": str(path), "decision": "pass"} for path in images]
        for record in add_novelty(units, novelty or [], novelty_threshold):
            typer.echo(json.dumps(record))
        return
    clf = DefectClassifier.load(model)
    if good_class is not None and good_class not in clf.classes_:
        raise ConfigError(f"--good-class {good_class!r} is not a class of the model ({', '.join(clf.classes_)})")
    limits = thresholds(InspectionCosts(scrap=scrap, review=review, escape=escape))
    records = inspection_records(clf, images, decode_many(images, clf.size), good_class, limits)
    if novelty is not None:
        add_novelty(records, novelty, novelty_threshold)
    log = ReviewQueue(queue) if queue is not None else None
    try:
        for path, record in zip(images, records, strict=True):
            if log is not None:
                record["inspection_id"] = log.add(
                    line=line, unit=path.stem, image=str(path.resolve()), defect_type=record["defect_type"],
                    probability=min(max(record["defect_probability"], 0.0), 1.0), decision=record["decision"],
                    novelty_score=record.get("novelty_score"), novel=record.get("novel"),
                )  # fmt: skip
            typer.echo(json.dumps(record))
    finally:
        if log is not None:
            log.close()


@quality_app.command()
def spc(
    csv: Annotated[Path, typer.Argument(help="CSV file with the measurements (one row per measurement or sample).")],
    column: Annotated[str, typer.Option(help="Column of measurements, defectives or defect counts.")],
    chart: Annotated[str, typer.Option(help="xbar-r, xbar-s, imr, p, np, c, u, ewma or cusum.")] = "imr",
    size_column: Annotated[str | None, typer.Option(help="Column of sample sizes (p, np, u charts).")] = None,
    subgroup: Annotated[int, typer.Option(min=2, max=25, help="Subgroup size for the X-bar charts.")] = 5,
    ruleset: Annotated[str, typer.Option(help="western-electric or nelson.")] = "western-electric",
    baseline: Annotated[int | None, typer.Option(min=2, help="Points (subgroups) the limits are set on.")] = None,
    lsl: Annotated[float | None, typer.Option(help="Lower specification limit (capability).")] = None,
    usl: Annotated[float | None, typer.Option(help="Upper specification limit (capability).")] = None,
    casebook: Annotated[Path | None, typer.Option(help="Case book (DuckDB) to file rule hits into as alerts.")] = None,
    asset: Annotated[str, typer.Option(help="Asset (or line) the alerts are filed for.")] = "line-1",
) -> None:
    """Control chart with limits, rule hits and capability, as JSON; rule hits become alerts with --casebook.

    The alerts are stamped with the CSV's ``ts`` column (ISO 8601 times), else hourly from 2000-01-01 UTC.
    """
    import pandas as pd

    from forewarn.quality.spc import compute

    if not csv.is_file():
        raise ConfigError(f"{str(csv)!r} does not exist")
    frame = pd.read_csv(csv, keep_default_na=False, na_values=[""])  # "n/a" is text to report, not a blank
    for name in (column, size_column):
        if name is not None and name not in frame.columns:
            raise SchemaError(f"no column {name!r} (columns: {', '.join(map(str, frame.columns))})", source=str(csv))
    values = _numbers(frame, column, str(csv))
    sizes = _numbers(frame, size_column, str(csv)) if size_column else None
    try:
        result = compute(chart, values, sizes=sizes, subgroup=subgroup, ruleset=ruleset, baseline=baseline,
                         lsl=lsl, usl=usl)  # fmt: skip
    except SchemaError as err:
        raise _where(err, str(csv), column, size_column) from None
    if casebook is not None:
        from forewarn.decide.alerts import Alert
        from forewarn.decide.cases import CaseBook
        from forewarn.quality.spc import alert_fields

        times = _times(frame, str(csv)) if "ts" in frame.columns else None
        book = CaseBook(casebook)
        try:
            alerts = [Alert(**fields) for fields in alert_fields(result, asset, times, subgroup=subgroup)]
            result["cases"] = sorted(set(book.file_alerts(alerts, {})))
        finally:
            book.close()
    typer.echo(json.dumps(result))


_OPTIONS = {"lsl/usl": "--lsl/--usl"}


def _numbers(frame: Any, column: str, source: str) -> Any:
    """A CSV column as floats; an empty cell or a text one is an error naming its line (the header is line 1)."""
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().argmax())
        cell = frame[column].iloc[row]
        what = "empty cell" if pd.isna(cell) or not str(cell).strip() else f"{str(cell)!r} is not a number"
        raise SchemaError(what, source=source, line=row + 2, column=column, hint="fill the cell or drop the row")
    return values.to_numpy(dtype=float)


def _times(frame: Any, source: str) -> Any:
    """The CSV's ``ts`` column as UTC times; numbers (sample numbers, epochs) or unreadable cells are an error."""
    import pandas as pd

    raw = frame["ts"]
    if pd.api.types.is_numeric_dtype(raw):
        raise SchemaError("holds numbers, not times", source=source, column="ts",
                          hint="write ISO 8601 times (2026-01-05T08:00:00Z), or rename the column")  # fmt: skip
    times = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    if times.isna().any():
        row = int(times.isna().to_numpy().argmax())
        raise SchemaError(f"{str(raw.iloc[row])!r} is not a time", source=source, line=row + 2, column="ts",
                          hint="write ISO 8601 times (2026-01-05T08:00:00Z)")  # fmt: skip
    return times


def _where(err: SchemaError, source: str, column: str, size_column: str | None) -> ForewarnError:
    """``compute``'s error with the user's file and column (or option) in place of its own field names."""
    from forewarn.quality.spc import SIZE_FIELDS, VALUE_FIELDS, renamed

    field = err.column or ""
    if field in VALUE_FIELDS or (field in SIZE_FIELDS and size_column):
        return renamed(err, column, size_column, source)
    option = "--size-column" if field in SIZE_FIELDS else _OPTIONS.get(field, f"--{field}" if field else "")
    text = err.reason + (f" ({err.hint})" if err.hint else "")
    return ConfigError(f"{option}: {text}" if option else text)
