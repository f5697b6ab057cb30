"""The fits of ``forewarn detect`` kept in a folder, for the stream: ``forewarn detect --save-models DIR``.

``forewarn detect`` fits one model per asset (or one per pool of assets with too few rows, :mod:`forewarn.detect`
step 3) and, by default, keeps none. :func:`save_fits` writes the fits of a :class:`~forewarn.detect.DetectResult`
made with ``keep_models=True`` to a folder, and :class:`SavedFits` reads it back, so that the stream scores each
asset with the very model ``detect`` scored it with (one ``[[models]]`` entry for the whole folder, see
:func:`models_entry`):

* ``DIR/fit-NNN/``: one saved model per fit (:func:`forewarn.base.save`), in the order of the fits;
* ``DIR/detect-fits.json`` (:data:`INDEX_FILE`): the index, ``{"format": 1, "detector", "options", "channels",
  "fits": [...]}``, each fit ``{"folder", "assets", "channels", "fill", "model", "n_train", "train_from",
  "train_to", "scale"}``: the assets it scores, the channels it reads in order, the value each channel takes before
  its first reading (the training median), ``own`` or ``pooled: <class>``, each asset's training rows, the times of
  the first and last training row and each channel's robust scale in the training rows (what an episode's top
  channels are measured in; folders saved before it was written lack it). ``channels`` at the top is every fit's
  channels, in order of first use.

``forewarn detect --models DIR`` scores with the fits of such a folder (:meth:`SavedFits.unit` per fit, the
``kept`` of :func:`forewarn.detect.detect_frame`): a nightly run on a store that grew scores the new rows with the
same fit, so the earlier rows' scores and episodes do not move; with ``--save-models`` the folder keeps its fits
(:meth:`SavedFits.detect_fits`) and gains those of the assets that had none.

A saved fit scores as ``detect`` does (:meth:`SavedFit.score`): the asset's channels, a missing reading carried
forward from the asset's last one, a channel before its first reading at the fill value, then the model's score.
Only a detector whose score is already the ``anomaly_score`` (tag ``unit = "probability-like"``) and that reads a
series in time order (tag ``sequential``), scored without a trailing mean, is saved: that is what the stream scores
(the default ``ensemble``); another detector's ``anomaly_score`` is recalibrated per run and is refused here.

>>> import numpy as np, pandas as pd, tempfile
>>> from forewarn.detect import detect_frame
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"asset_id": np.repeat(["P-1", "P-2"], 300),
...                       "ts": np.tile(pd.date_range("2024-01-01", periods=300, freq="min").astype(str), 2),
...                       "temp": 50 + rng.normal(0, 1, 600)})
>>> result = detect_frame(frame, keep_models=True)
>>> folder = save_fits(result, Path(tempfile.mkdtemp()) / "fits")
>>> fits = SavedFits(folder)
>>> fits.channels, fits.assets, fits.fit_for("P-9") is None
(['temp'], ['P-1', 'P-2'], True)
>>> one = frame[frame["asset_id"] == "P-2"].set_index(pd.DatetimeIndex(pd.to_datetime(frame["ts"][:300], utc=True)))
>>> bool(np.allclose(fits.fit_for("P-2").score(one[["temp"]]), result.scores["anomaly_score"][300:]))
True
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base import load, save
from forewarn.decide.alarms import AlarmRule, fitted_rule
from forewarn.detect.scoring import DetectFit, DetectResult
from forewarn.detect.since import CONTEXT_ROWS
from forewarn.exceptions import ConfigError, StateError
from forewarn.models.anomaly.robust import fill_gaps

#: the index of a folder of saved fits
INDEX_FILE = "detect-fits.json"
FORMAT = 1


def check_savable(cls: Any, detector: str, smooth: int | None) -> None:
    """Refuse (``ConfigError``) a detector whose fits the stream cannot score as ``detect`` does (module text).

    >>> from forewarn.base import registry
    >>> check_savable(registry.get("ensemble"), "ensemble", None)
    >>> check_savable(registry.get("ensemble"), "ensemble", 5)
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: --save-models keeps fits scored without a trailing mean; leave out --smooth 5
    """
    tags = cls.get_tags()
    if not (tags.get("sequential", False) and tags.get("unit") == "probability-like"):
        raise ConfigError(
            f"--save-models keeps fits the stream scores as detect does: a sequential detector whose score is the "
            f"anomaly_score (the default ensemble); {detector} is not one"
        )
    if smooth not in (None, 1):
        raise ConfigError(f"--save-models keeps fits scored without a trailing mean; leave out --smooth {smooth}")


def save_fits(result: DetectResult, folder: str | os.PathLike[str], *, options: dict[str, Any] | None = None) -> Path:
    """Write the fits of ``result`` (made with ``keep_models=True``) and their index to ``folder``; its path.

    ``folder`` is replaced whole when it holds an earlier index (once the new fits are written beside it, in
    ``<folder>.saving``), and refused when it holds anything else.
    ``options`` (the run's settings, JSON values) are written to the index as they are.
    """
    if not result.models:
        raise StateError("the result keeps no fitted models; score with keep_models=True (detect --save-models)")
    if result.asset_column is None:
        raise ConfigError(
            "--save-models needs assets: the stream scores each asset with its own fit; give --store, or an input "
            "with an asset column (asset_id), or long rows asset_id,ts,channel,value"
        )
    path = Path(folder)
    if path.exists() and any(path.iterdir()) and not (path / INDEX_FILE).is_file():
        raise ConfigError(f"{str(path)!r} holds files that are not saved fits; give an empty or new folder")
    staging = path.with_name(path.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    fits, channels = [], []
    for number, fit in enumerate(result.models):
        name = f"fit-{number:03d}"
        save(fit.model, staging / name)
        channels += [c for c in fit.channels if c not in channels]
        fits.append(
            {
                "folder": name,
                "assets": fit.assets,
                "channels": fit.channels,
                "fill": fit.fill,
                "model": "own" if fit.group.startswith("own:") else f"pooled: {fit.group.split(':', 1)[1]}",
                "n_train": dict(zip(fit.assets, fit.n_train, strict=True)),
                "train_from": fit.train_from,
                "train_to": fit.train_to,
            }
            | ({} if fit.scale is None else {"scale": fit.scale})
        )
    index = {
        "format": FORMAT,
        "detector": result.detector,
        "options": options or {},
        "channels": channels,
        "fits": fits,
    }
    (staging / INDEX_FILE).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    if path.exists():  # the earlier fits (or an empty folder) go only once the new ones are all written
        shutil.rmtree(path)
    staging.rename(path)
    return path


def models_entry(
    folder: str | os.PathLike[str],
    *,
    model_id: str = "detect",
    context: int = CONTEXT_ROWS,
    rule: AlarmRule | None = None,
) -> str:
    """The stream config's ``[[models]]`` table that scores every asset of ``folder`` with its own fit, under the
    alarm ``rule``: its settings other than those the stream gives a folder of fits by default
    (:func:`~forewarn.decide.alarms.fitted_rule`, detect's default too; no limit written ``episode_rows = 0``).

    >>> print(models_entry("/plant/fits"))
    [[models]]
    path = "/plant/fits"
    model_id = "detect"
    alarm = {}
    context = 512
    >>> models_entry("/plant/fits", rule=AlarmRule(on=0.6, episode_rows=48)).splitlines()[3]
    'alarm = { on = 0.6, episode_rows = 48 }'
    """
    given, default = _toml_settings(rule or fitted_rule()), _toml_settings(fitted_rule())
    chosen = [f"{name} = {json.dumps(value)}" for name, value in given.items() if value != default[name]]
    alarm = "{ " + ", ".join(chosen) + " }" if chosen else "{}"
    return "\n".join(
        ["[[models]]", f"path = {json.dumps(str(folder))}", f"model_id = {json.dumps(model_id)}"]
        + [f"alarm = {alarm}", f"context = {int(context)}"]
    )


def _toml_settings(rule: AlarmRule) -> dict[str, Any]:
    """The rule's settings as the stream config writes them (TOML has no null: no limit is ``episode_rows = 0``)."""
    return {**rule.settings(), "episode_rows": rule.episode_rows or 0}


@dataclass
class SavedFit:
    """One saved fit: the model, the channels it reads in order and each channel's value before its first reading."""

    model: Any
    channels: list[str]
    fill: np.ndarray

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """The ``anomaly_score`` of the rows of one asset's series (``X``: its channels, time index), as ``detect``."""
        values = fill_gaps(X[self.channels].to_numpy(dtype="float64", na_value=np.nan), self.fill)
        rows = pd.DataFrame(values, index=X.index, columns=self.channels)
        return np.asarray(self.model.score(rows), dtype="float64").reshape(-1)


@dataclass
class KeptUnit:
    """One kept fit as scoring reads it: the fit, each member's training rows, the channels' scale (``None``: a
    folder saved without it) and ``own`` or ``pooled: <class>``."""

    fit: SavedFit
    n_train: dict[str, int]
    scale: list[float] | None
    model: str
    #: only the rows after each member's mark (:mod:`forewarn.detect.since`; a member without one: every row);
    #: ``None``: every row of every member
    marks: dict[str, Any] | None = None


class SavedFits:
    """The fits in a folder written by :func:`save_fits`, each loaded on first use (see the module text)."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        where = str(self.folder / INDEX_FILE)
        try:
            index = json.loads((self.folder / INDEX_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{where!r} not found: {str(self.folder)!r} is not a folder of saved fits") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where!r} is not valid JSON (line {err.lineno}): {err.msg}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT or not isinstance(index.get("fits"), list):
            raise ConfigError(f"{where!r} is not an index of saved fits (format {FORMAT}); save them again")
        self.index = index
        self.detector = str(index.get("detector", ""))
        self.channels = [str(c) for c in index.get("channels", [])]
        self._of: dict[str, int] = {}
        for number, fit in enumerate(index["fits"]):
            missing = {"folder", "assets", "channels", "fill"} - set(fit)
            if missing:
                raise ConfigError(f"{where!r}: fit {number} lacks {sorted(missing)}; save the fits again")
            for asset in fit["assets"]:
                self._of[str(asset)] = number
        self._loaded: dict[int, SavedFit] = {}

    @property
    def assets(self) -> list[str]:
        """The assets that have a fit, sorted."""
        return sorted(self._of)

    @property
    def manifest(self) -> dict[str, Any]:
        """What a saved model's manifest says that the stream reads: the task, a name, the channels."""
        return {"task": "anomaly", "model": f"{self.detector} fits", "feature_names": self.channels}

    def get_tags(self) -> dict[str, Any]:
        """The tags every fit shares (:func:`check_savable`): sequential, missing values allowed."""
        return {"sequential": True, "nan_allowed": True, "unit": "probability-like"}

    def training_rows(self, asset: str) -> int | None:
        """The rows the fit that scores ``asset`` learnt from of its series (the index's ``n_train``; 0 where a
        folder does not say); ``None`` when the folder has no fit for it. A rule tied to the fit
        (``episode_rows="auto"``) is resolved against them, in ``detect --models`` and in the stream alike."""
        number = self._of.get(str(asset))
        if number is None:
            return None
        return int(dict(self.index["fits"][number].get("n_train", {})).get(str(asset), 0))

    def fit_number(self, asset: str) -> int | None:
        """The position of the fit that scores ``asset`` in the index; ``None`` when the folder has none for it."""
        return self._of.get(str(asset))

    def unit(self, number: int, members: list[str], marks: Mapping[str, Any] | None = None) -> KeptUnit:
        """What scoring ``members`` with fit ``number`` needs (:func:`forewarn.detect.scoring._score_kept`); with
        ``marks`` (:mod:`forewarn.detect.since`), their rows after their marks only."""
        entry = self.index["fits"][number]
        fit = self.fit_for(str(entry["assets"][0]))
        assert fit is not None
        n_train = {str(k): int(v) for k, v in dict(entry.get("n_train", {})).items()}
        scale = entry.get("scale")
        chosen = None if marks is None else {m: marks[m] for m in members if m in marks}
        return KeptUnit(fit, {m: n_train.get(m, 0) for m in members}, scale, str(entry.get("model", "own")), chosen)

    def detect_fits(self) -> list[DetectFit]:
        """Every fit of the folder, in its order, as :func:`save_fits` writes them again (``--models DIR
        --save-models DIR``: the folder keeps them all, those of assets this run did not select too)."""
        out = []
        for entry in self.index["fits"]:
            assets = [str(a) for a in entry["assets"]]
            fit = self.fit_for(assets[0])
            assert fit is not None
            model = str(entry.get("model", "own"))
            n_train = dict(entry.get("n_train", {}))
            out.append(
                DetectFit(
                    group=f"own:{assets[0]}" if model == "own" else "pooled:" + model.split(": ", 1)[-1],
                    assets=assets,
                    model=fit.model,
                    channels=list(fit.channels),
                    fill=[float(v) for v in fit.fill],
                    n_train=[int(n_train.get(a, 0)) for a in assets],
                    train_from=str(entry.get("train_from", "")),
                    train_to=str(entry.get("train_to", "")),
                    scale=entry.get("scale"),
                )
            )
        return out

    def fit_for(self, asset: str) -> SavedFit | None:
        """The fit that scores ``asset``; ``None`` when the folder has none for it."""
        number = self._of.get(str(asset))
        if number is None:
            return None
        if number not in self._loaded:
            fit = self.index["fits"][number]
            self._loaded[number] = SavedFit(
                load(self.folder / str(fit["folder"])),
                [str(c) for c in fit["channels"]],
                np.asarray(fit["fill"], dtype="float64"),
            )
        return self._loaded[number]
