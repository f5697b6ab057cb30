"""The one error tree of Forewarn.

Every error Forewarn raises on purpose is a :class:`ForewarnError`, and each also subclasses the built-in
exception a Python user would expect (``ValueError`` for bad data, ``FileNotFoundError`` for a missing
file, ``KeyError`` for an unknown name), so ``except ValueError`` keeps working in user code.

A message names *what* was wrong, *where* (file, line, column, field), what was *expected*, and the *fix*.

>>> from forewarn.exceptions import IngestError
>>> err = IngestError("value 'abc' is not a number", source="plant.csv", line=7, column="value",
...                   hint="fix the cell or drop the row")
>>> print(err)
plant.csv, line 7, column 'value': value 'abc' is not a number (fix the cell or drop the row)
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations


class ForewarnError(Exception):
    """Base class of every error Forewarn raises on purpose."""


class ConfigError(ForewarnError, ValueError):
    """A setting (flag, environment variable, config file) is missing or invalid."""


class ParameterError(ConfigError, TypeError):
    """A hyper-parameter of an estimator has a value outside its declared constraints.

    Raised by ``fit`` before any learning, in scikit-learn's wording; like scikit-learn's own
    ``InvalidParameterError`` it is both a ``ValueError`` and a ``TypeError`` (a value of the wrong type is a
    ``TypeError`` to most Python code). ``param`` and ``estimator`` name the culprit.

    >>> err = ParameterError("The 'k' parameter of KNNDetector must be an int >= 1. Got 0 instead.",
    ...                      param="k", estimator="KNNDetector")
    >>> err.param, isinstance(err, ValueError) and isinstance(err, TypeError)
    ('k', True)
    """

    def __init__(self, message: str, *, param: str | None = None, estimator: str | None = None) -> None:
        self.param = param
        self.estimator = estimator
        super().__init__(message)

    def __reduce__(self):  # keep the keyword fields when the error crosses a process boundary
        return (_rebuild_parameter_error, (type(self), str(self), self.param, self.estimator))


def _rebuild_parameter_error(cls, message, param, estimator):  # type: ignore[no-untyped-def]
    return cls(message, param=param, estimator=estimator)


class SchemaError(ForewarnError, ValueError):
    """Data does not match Forewarn's data model.

    ``source`` (file or frame name), ``line`` (1-based, counting the header of a text file as line 1),
    ``column`` and ``hint`` are optional; the message puts whichever are known in front.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = (", ".join(where) + ": " if where else "") + self.reason
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __reduce__(self):  # keep the keyword fields when the error crosses a process boundary
        return (_rebuild_schema_error, (type(self), self.reason, self.source, self.line, self.column, self.hint))


def _rebuild_schema_error(cls, reason, source, line, column, hint):  # type: ignore[no-untyped-def]
    return cls(reason, source=source, line=line, column=column, hint=hint)


class IngestError(SchemaError):
    """A file or frame was rejected whole by the store; nothing of it was written."""


class UnknownAssetError(IngestError):
    """Readings or events name an asset the store does not know, and ingest runs in strict mode."""


class DataNotFoundError(ForewarnError, FileNotFoundError):
    """A dataset, file or data directory that a command needs is not there."""


class NotFittedError(ForewarnError, ValueError):
    """An estimator was used before ``fit``."""


class FeatureMismatchError(SchemaError):
    """The columns given to a fitted estimator differ from those it was fitted on."""


class RegistryError(ForewarnError, KeyError):
    """A model name is not registered, or registered twice."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plain
        return str(self.args[0]) if self.args else ""


class StateError(ForewarnError, ValueError):
    """A saved model folder or a state dictionary is missing parts or does not fit the estimator."""
