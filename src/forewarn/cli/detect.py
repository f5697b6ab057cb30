"""``forewarn detect INPUT.csv --out SCORES.csv`` (or ``--store DB``): label-free detection, alarms not levels.

Thin layer over :func:`forewarn.detect.detect_file` and :func:`forewarn.detect.detect_store`; the lead wires
:func:`register` into the main app. The alarm rule is :mod:`forewarn.decide.alarms`'s default, the same one
``evaluate``, the benchmarks and the stream use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.cli.export import EngineOpt, RayAddressOpt, executor
from forewarn.cli.store_commands import TIME_FORMAT_HELP, TIMEZONE_HELP

#: :data:`forewarn.detect.DEFAULT_DETECTOR`, spelled out so that ``--help`` does not import numpy and pandas
#: (a test keeps the two equal)
DEFAULT_DETECTOR = "ensemble"


def register(app: typer.Typer) -> None:
    """Add ``detect`` to ``app``."""
    app.command()(detect)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def detect(
    out: Annotated[Path, typer.Option("--out", help="Where to write [asset_id,]timestamp,anomaly_score,alarm.")],
    input_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[INPUT.csv]",
            help="CSV (',' or ';'): a timestamp column and numeric columns (wide, optionally an asset column), "
            "or asset_id,ts,channel,value (long). Leave out with --store.",
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option("--events", help="Also write one line per alarm episode (start, end, peak, top channels)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Score assets already in this store (a DuckDB file or a postgresql:// URL)."),
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="With --store: only these sites (comma-separated).")
    ] = None,
    line: Annotated[
        str | None, typer.Option("--line", help="With --store: only these lines (comma-separated).")
    ] = None,
    asset_class: Annotated[
        str | None, typer.Option("--class", help="With --store: only these asset classes (comma-separated).")
    ] = None,
    assets: Annotated[
        str | None, typer.Option("--assets", help="With --store: only these assets (comma-separated).")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(help="With --store: average readings at this spacing, e.g. 10min (default: as stored)."),
    ] = None,
    asset_column: Annotated[
        str | None,
        typer.Option(help="Column naming each row's asset (default: one named asset_id or asset, if any)."),
    ] = None,
    detector: Annotated[str, typer.Option(help="Registered anomaly detector (see the model registry).")] = (
        DEFAULT_DETECTOR
    ),
    train_fraction: Annotated[
        float,
        typer.Option(help="Leading share of each asset's rows, in time order, that the detector learns as normal."),
    ] = 0.15,
    smooth: Annotated[
        int | None,
        typer.Option(
            min=1, help="Trailing mean over this many rows (default: 10 for raw-score detectors, none for ensemble)."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Numeric column to leave out (repeatable), e.g. a label column.")
    ] = None,
    timestamp_column: Annotated[
        str | None,
        typer.Option(
            "--time-column",
            "--timestamp-column",
            help="Timestamp column, as for forewarn ingest (default: found by name or format).",
        ),
    ] = None,
    time_format: Annotated[
        str | None, typer.Option(help="Of an INPUT file, as for forewarn ingest: " + TIME_FORMAT_HELP)
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Of an INPUT file, as for forewarn ingest: " + TIMEZONE_HELP + " Scores in UTC.")
    ] = "UTC",
    contamination: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Known share of anomalous rows in the training part (ensemble: a trimmed fit); default: unknown.",
        ),
    ] = None,
    transition_rows: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Ensemble: in this many rows after a start, a stop or another switch of state, alarm only on a "
            "deviation there from the switch on (fewer false alarms, some warnings later; e.g. 12); default: off.",
        ),
    ] = None,
    rebase_rows: Annotated[
        int | None,
        typer.Option(
            min=10,
            help="Ensemble: once a member has scored this many rows, rebase its surprises on them (long metric "
            "series that drift slowly away from the first part, e.g. 4000; not for machines that start, stop and "
            "degrade: more false alarms there); default: off.",
        ),
    ] = None,
    tail_visits: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Ensemble: a height the training rows reach in this many separate excursions is normal (metric "
            "series whose rare events recur: queues that empty, bursts, counts; e.g. 3). Long such series: far "
            "fewer false alarms; on machines, a few warnings fewer; default: off.",
        ),
    ] = None,
    recurrence: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Ensemble: a height the series itself has already reached in this many separate excursions "
            "through which it kept running (no stop, start or regime switch inside) is normal, however few of them "
            "the training rows held (long metric series whose rare events recur: queues that empty, bursts, "
            "counts). A height never reached before still alarms, and a machine's warnings that end in a stop "
            "keep alarming; 0 turns it off; default: 8.",
        ),
    ] = None,
    tail_exceedances: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Ensemble: a short fit's alarm levels rest on at least this many of its training rows (up to half "
            "of them) instead of its top 10 % (series of 600-1,000 rows: fewer missed anomalies; e.g. 40, fits of "
            "400 rows or more unchanged; on short healthy histories of machines, more false alarms); default: off.",
        ),
    ] = None,
    episode_rows: Annotated[
        str | None,
        typer.Option(
            "--episode-rows",
            help="The alarm rule: an episode lasts at most this many rows, so an anomaly that lasts is announced "
            "again every N rows (as an alert manager repeats a firing alert) and one long stretch a short fit reads "
            "as anomalous cannot hide a later anomaly (e.g. 48); 'auto': a quarter of the rows each asset's fit "
            "learnt from, 48 at the least (the default); 0: an episode lasts until its score clears.",
        ),
    ] = None,
    rounding: Annotated[
        bool,
        typer.Option(
            "--rounding",
            help="Ensemble: take one recording step as noise on EVERY channel whose training values lie on a grid, "
            "a sensor's own coarse quantisation too. By default only the grids of written decimals (an export with "
            "few decimals: 1e-4, 0.01, whole numbers) are widened, so such exports do not alarm at each step; "
            "this flag adds the rest (it lengthened SKAB's episodes, where a coarse pressure's steps are the faults).",
        ),
    ] = False,
    save_models: Annotated[
        Path | None,
        typer.Option(
            "--save-models",
            help="Also keep each asset's fit (one folder per asset or pool, and an index) in this folder, and print "
            "the stream's [[models]] entry that scores every asset with its own fit (default detector only).",
        ),
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option(
            "--models",
            help="Score with the fits kept by an earlier --save-models in this folder (its detector and options), so "
            "a nightly rerun scores new readings with the same fit and earlier episodes do not move; an asset without "
            "a fit there is fitted now (and added with --save-models DIR).",
        ),
    ] = None,
    cases: Annotated[
        bool,
        typer.Option(
            "--cases",
            help="With --store: file each alarm episode into the store's case book (the one forewarn serve --store "
            "lists), as the stream files a detector's alarm; a rerun files only what is new.",
        ),
    ] = False,
    only_new: Annotated[
        bool,
        typer.Option(
            "--only-new",
            help="With --store and --models DIR: score only each asset's rows after the last row the previous "
            "--only-new run scored (its marks, kept in the fits folder; the first night, with --save-models DIR "
            "alone, every row is scored and the marks kept), with the context the detector needs and the "
            "alarm state carried, so scores, alarms, episodes and cases are those of one run over the whole history; "
            "--out then holds the new rows only, --events the episodes with a row at or above the clearing level among "
            "them (begun there or earlier: an earlier alarm row is counted -1). An asset "
            "without a mark (new to the fits, or the first run with it) or whose earlier rows changed in the store "
            "is scored whole.",
        ),
    ] = False,
    close_quiet: Annotated[
        str,
        typer.Option(
            "--close-quiet",
            help="With --cases: the case rule's gap: a case closes once its asset had no alarming row for this long "
            "(e.g. 7d, 36h; 0 = never), as in forewarn serve and the stream.",
        ),
    ] = "7d",
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Score every row for how unusual it is and raise an alarm where an anomaly episode starts.

    anomaly_score: a level in [0, 1]; 0.5 is the alarm level learned from the first part of each asset's rows.

    alarm: 1 on the row where an episode starts (anomaly_score >= 0.5); an episode clears after 5 rows below 0.3,
    and ends after a quarter of the rows its asset's model learnt from (48 at the least), so a lasting anomaly
    alarms again then (--episode-rows N: after N rows; 0: only when it clears).

    Each asset is scored on its own; an asset with too few rows shares a model with its class (with a warning).

    Scores do not look ahead: later rows never change earlier scores.

    A plant that loads exports in batches (forewarn ingest each night): detect --store DB --cases --save-models FITS
    the first night, then detect --store DB --cases --models FITS --save-models FITS after each load; forewarn serve
    --store DB lists the cases (each episode one alert of source detect; a case closes after --close-quiet without an
    alarming row). With the kept fits the earlier rows keep their scores, so a rerun files only what is new. Add
    --only-new (the first night beside --save-models FITS) to score each night only the rows after those the
    previous run scored: the same scores, alarms, episodes and cases as one run over the whole history, at the cost
    of a night's rows.
    """
    if (input_path is None) == (store is None):
        raise typer.BadParameter("give either INPUT.csv or --store DB (one of them)", param_hint="INPUT.csv/--store")
    if store is None and any(v is not None for v in (site, line, asset_class, assets, interval)):
        raise typer.BadParameter("--site, --line, --class, --assets and --interval need --store")
    if cases and store is None:
        raise typer.BadParameter(
            "the case book lives beside a store: give --store DB with --cases", param_hint="--cases"
        )
    quiet = _close_quiet(close_quiet) if cases else None
    if only_new and (store is None or (models is None and save_models is None)):
        raise typer.BadParameter(
            "--only-new scores the store's rows after those the kept fits scored last: give --store DB and --models "
            "DIR (the first night: --save-models DIR, where the fits and their marks are kept)",
            param_hint="--only-new",
        )
    kept = None
    if models is not None:
        given = {
            "contamination": contamination,
            "transition_rows": transition_rows,
            "rebase_rows": rebase_rows,
            "tail_visits": tail_visits,
            "recurrence": recurrence,
            "tail_exceedances": tail_exceedances,
        }
        given["rounding"] = True if rounding else None
        kept = _kept(models, detector, train_fraction, smooth, interval, given)
        detector, train_fraction = kept.detector, float(kept.index.get("options", {}).get("train_fraction", 0.15))
    options: dict[str, Any] = {
        "detector": detector,
        "train_fraction": train_fraction,
        "smooth": smooth,
        "executor": executor(engine, ray_address),  # each asset's (or pool's) model one unit
    }
    if kept is not None:
        options["kept"] = kept
    if episode_rows is not None:
        options["rule"] = _episode_rule(episode_rows)
    if only_new:
        options["since"] = {} if models is None else _marks(models)
    params: dict[str, Any] = {
        name: value
        for name, value in (
            ("contamination", contamination),
            ("transition_rows", transition_rows),
            ("rebase_rows", rebase_rows),
            ("tail_visits", tail_visits),
            ("recurrence", recurrence),
            ("tail_exceedances", tail_exceedances),
            ("rounding", True if rounding else None),
        )
        if value is not None
    }
    if recurrence == 1:
        raise typer.BadParameter(
            "1 excursion is no recurrence: give 2 or more, or 0 to turn it off", param_hint="--recurrence"
        )
    if recurrence == 0:
        params["recurrence"] = None  # --recurrence 0: off (the ensemble's default is 8)
    if kept is not None:
        params = dict(kept.index.get("options", {}).get("params", {}))
    if save_models is not None:
        if interval is not None:
            raise typer.BadParameter(
                "the stream scores readings as they arrive, not averaged: leave out --interval to save the fits",
                param_hint="--save-models",
            )
        from forewarn.base import registry
        from forewarn.detect.saved import check_savable
        from forewarn.exceptions import ConfigError

        try:
            check_savable(registry.get(detector), detector, smooth)
        except ConfigError as err:
            raise typer.BadParameter(str(err), param_hint="--save-models") from None
        options["keep_models"] = True
    if params:
        from forewarn.base import registry

        known = registry.get(detector)().get_params()
        for name in params:
            if name not in known:
                flag = "--" + name.replace("_", "-")
                raise typer.BadParameter(f"{detector} takes no {name.replace('_', ' ')}", param_hint=flag)
        options["params"] = params
    if store is not None:
        if asset_column or exclude or timestamp_column or time_format or timezone != "UTC":
            raise typer.BadParameter(
                "--asset-column, --exclude, --time-column, --time-format and --timezone apply to an INPUT file"
            )
        from forewarn.detect import detect_store, write_result

        result = detect_store(
            store,
            sites=_split(site),
            lines=_split(line),
            classes=_split(asset_class),
            assets=_split(assets),
            interval=interval,
            **options,
        )
        write_result(result, out, events)
    else:
        from forewarn.detect import detect_file

        assert input_path is not None
        result = detect_file(
            input_path,
            out,
            events_path=events,
            exclude=tuple(exclude or ()),
            timestamp_column=timestamp_column,
            asset_column=asset_column,
            time_format=time_format,
            timezone=timezone,
            **options,
        )
    for note in result.notes:
        typer.echo(f"warning: {note}", err=True)
    scores = result.scores
    fits = result.fits
    n_assets = len(fits) if result.asset_column else 0
    what = f"{len(scores)} rows of {n_assets} asset(s)" if n_assets else f"{len(scores)} rows"
    if result.marks is not None:
        what = f"{len(scores)} new row(s) of {int((fits['scored'] > 0).sum())} asset(s)"
    rule = result.rule
    highest = "no row"
    if len(scores):
        top = int(scores["anomaly_score"].to_numpy().argmax())
        where = scores["timestamp"].iloc[top]
        if n_assets:
            where = f"{scores['asset_id'].iloc[top]} {where}"
        highest = f"{scores['anomaly_score'].iloc[top]:.3f} at {where}"
    own = int((fits["model"] == "own").sum())
    pools = sorted(str(m).split(": ", 1)[1] for m in fits["model"].unique() if m != "own")
    pooled = len(fits) - own
    if not n_assets:
        fitted = "one model" + (", trained on too few rows" if pooled else "")
    else:
        parts = [f"{own} asset(s) with a model of their own"] if own else []
        if pooled:
            parts.append(f"{pooled} pooled ({'one pool' if pools == ['all'] else 'per class: ' + ', '.join(pools)})")
        fitted = ", ".join(parts)
    typer.echo(
        f"scored {what} ({len(result.features)} column(s)) with {result.detector}, {fitted}, trained on the first "
        f"{train_fraction:g} of each series ({result.n_train} rows); {result.alarms} alarm episode(s) "
        f"(open at anomaly_score >= {rule.on:g}, clear after {rule.clear_rows} rows below {rule.off:g}"
        f"{_episode_text(rule)}); highest {highest}"
    )
    if result.marks is not None:
        typer.echo(_only_new_line(result, out))
    if result.dropped:
        typer.echo(f"dropped column(s) without values in the training rows: {', '.join(result.dropped)}")
    typer.echo(f"scores: {out}" + (f"; episodes: {events}" if events else ""))
    if kept is not None:
        typer.echo(_kept_line(fits, kept.folder, save_models))
    if save_models is not None:
        from forewarn.detect.saved import models_entry, save_fits

        settings = {
            "train_fraction": train_fraction,
            "params": options.get("params", {}),
            "store": None if store is None else _store_text(store),
            "input": None if input_path is None else str(input_path.resolve()),
            "selection": {"sites": _split(site), "lines": _split(line), "classes": _split(asset_class)}
            | {"assets": _split(assets)},
        }
        folder = save_fits(result, save_models, options=settings).resolve()
        typer.echo(
            f"saved {len(result.models)} fit(s) of {sum(len(m.assets) for m in result.models)} asset(s) in {folder}; "
            "to score them in the stream, add to its config:"
        )
        typer.echo(models_entry(folder, rule=rule))  # the stream's rule as this run's
    if cases:
        assert store is not None
        typer.echo(_file_cases(result, store, quiet))
    if result.marks is not None:  # last: a run that failed before here leaves the earlier marks as they were
        from forewarn.detect.since import write_marks

        target = save_models if save_models is not None else models
        assert target is not None
        written = write_marks(target, {**result.previous, **result.marks})
        typer.echo(f"marks: each asset's last scored row kept in {written} for the next --only-new run")


def _close_quiet(value: str) -> Any:
    """``--close-quiet`` as the case rule reads it (``None``: never close)."""
    from forewarn.decide.quiet import close_quiet_setting
    from forewarn.exceptions import ConfigError

    try:
        return close_quiet_setting(value)
    except ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--close-quiet") from None


def _kept(
    folder: Path, detector: str, train_fraction: float, smooth: int | None, interval: str | None, given: dict[str, Any]
) -> Any:
    """The fits of ``--models DIR``; refused in one line: options that differ from those they were fitted with."""
    from forewarn.detect.saved import SavedFits
    from forewarn.exceptions import ConfigError

    if interval is not None or smooth not in (None, 1):
        flag = "--interval" if interval is not None else "--smooth"
        raise typer.BadParameter(f"the kept fits score readings as stored, without {flag}", param_hint="--models")
    try:
        kept = SavedFits(folder)
    except ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--models") from None
    saved = kept.index.get("options", {})
    saved_params = dict(saved.get("params", {}))
    clashes = []
    if detector not in (DEFAULT_DETECTOR, kept.detector):
        clashes.append(f"--detector {detector} (the fits are {kept.detector})")
    fraction = float(saved.get("train_fraction", 0.15))
    if train_fraction not in (0.15, fraction):
        clashes.append(f"--train-fraction {train_fraction:g} (they were fitted on {fraction:g})")
    for name, value in given.items():
        if value is not None and saved_params.get(name) != value:
            was = saved_params.get(name)
            clashes.append(
                f"--{name.replace('_', '-')} (they were fitted {'without it' if was is None else f'with {was}'})"
            )
    if clashes:
        raise typer.BadParameter(
            f"{', '.join(clashes)}: new assets are fitted as the kept fits were; leave it out, or fit afresh "
            "without --models",
            param_hint="--models",
        )
    return kept


def _episode_rule(value: str) -> Any:
    """``--episode-rows`` as the alarm rule: a row count (0: no limit) or ``auto``; refused in one line otherwise."""
    from forewarn.decide.alarms import TIED, AlarmRule

    text = value.strip().lower()
    if text == TIED:
        return AlarmRule(episode_rows=TIED)
    if not text.isdigit():
        raise typer.BadParameter(
            f"{value!r} is neither a row count (e.g. 48; 0: no limit) nor {TIED!r}", param_hint="--episode-rows"
        )
    return AlarmRule(episode_rows=int(text))


def _episode_text(rule: Any) -> str:
    """The summary line's part on the longest episode ('' without one)."""
    if rule.tied:
        return ", at most a quarter of each fit's training rows each (48 at the least)"
    return f", at most {rule.episode_rows} rows each" if rule.episode_rows else ""


def _marks(folder: Path) -> Any:
    """The marks of ``--models DIR`` (``--only-new``); refused in one line when unreadable."""
    from forewarn.detect.since import read_marks
    from forewarn.exceptions import ConfigError

    try:
        return read_marks(folder)
    except ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--only-new") from None


def _only_new_line(result: Any, out: Path) -> str:
    """One line: which rows ``--only-new`` scored, and the assets scored whole (and why)."""
    how = result.scored_how
    fitted = result.fits.loc[~result.fits["kept"].astype(bool), "asset_id"].astype(str).tolist()
    new = sorted(a for a, h in how.items() if h in ("new", "short"))
    nothing = sorted(a for a, h in how.items() if h == "nothing")
    if not len(result.scores):
        return (
            f"nothing new: no asset has rows after its last scored row ({len(nothing)} asset(s)); {out} holds the "
            "header only"
        )
    parts = [f"only new rows: {len(new)} asset(s) scored after their last scored row"]
    if nothing:
        parts.append(f"{len(nothing)} with nothing new")
    for kind, why in (
        ("changed", "rescored whole: rows up to their last scored row changed in the store since"),
        ("first", "scored whole: no mark yet"),
        (
            "short",
            "whose context read did not give the last run's scores back: their new scores may differ from a whole "
            "run's",
        ),
    ):
        names = sorted(a for a, h in how.items() if h == kind)
        if names:
            parts.append(f"{len(names)} {why} ({_names(names)})")
    if fitted:
        parts.append(f"{len(fitted)} fitted now, scored whole ({_names(fitted)})")
    return "; ".join(parts) + f"; {out} holds the new rows only"


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _kept_line(fits: Any, folder: Path, save_models: Path | None) -> str:
    """One line: how many assets the kept fits scored, and the assets fitted now (kept or not)."""
    new = fits.loc[~fits["kept"].astype(bool), "asset_id"].astype(str).tolist()
    line = f"{int(fits['kept'].sum())} asset(s) scored with their fits kept in {folder}"
    if not new:
        return line + "; no asset fitted now"
    names = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
    where = f"added to {save_models}" if save_models is not None else "not kept: add --save-models DIR to keep them"
    return line + f"; {len(new)} without a fit there fitted now ({names}): {where}"


def _store_text(store: str) -> str:
    """The store as the fits' index and the lines printed name it: a file's absolute path, a URL without password."""
    from forewarn.store.pg_sql import is_postgres_url, redact

    return redact(store) if is_postgres_url(store) else str(Path(store).resolve())


def _file_cases(result: Any, store: str, quiet: Any) -> str:
    """File the episodes into the store's case book (:func:`forewarn.detect.cases.file_cases`; a PostgreSQL store's
    own database, where a running service files too); the line saying so."""
    from forewarn.decide.cases import CaseBook, casebook_path_for
    from forewarn.decide.quiet import quiet_text
    from forewarn.detect.cases import file_cases

    book = CaseBook(casebook_path_for(store), close_quiet=quiet)
    path = book.path  # a PostgreSQL URL without its password
    try:
        done = file_cases(result, book)
    finally:
        book.close()
    rule = "never closed by the case rule" if quiet is None else f"closed after {quiet_text(quiet)} without an alarm"
    return (
        f"case book {path}: {done.episodes} alarm episode(s), {done.filed} new alert(s) filed "
        f"({done.episodes - done.filed} there already), {done.opened} case(s) opened, {done.closed} closed by the case "
        f"rule ({rule}); {done.open_cases} open on these assets; forewarn serve --store {_store_text(store)} lists them"
    )
