"""Declared hyper-parameter constraints, checked by :meth:`Estimator.fit` before any learning.

An estimator class declares ``parameter_constraints``: for every constructor parameter, a list of the
alternatives it accepts. An alternative is one of the small constraint objects below, or ``None`` (the value
``None`` is accepted). A value that no alternative accepts makes ``fit`` raise
:class:`~forewarn.exceptions.ParameterError` in scikit-learn's wording, naming the parameter, the estimator,
what was expected and what came instead.

====================================  ==================================================================
constraint                            accepts
====================================  ==================================================================
``Interval(int, 1, None)``            an int >= 1 (bounds inclusive; ``closed=`` opens either end)
``Interval(float, 0, 1, closed=..)``  a finite real number (an int too) in the interval
``Options("sqrt", "log2")``           exactly one of the listed values (``True`` is not ``1``)
``Boolean()``                         ``True`` or ``False`` (numpy booleans too)
``InstanceOf(dict, "a dict")``        an instance of the given type(s)
``SequenceOf(Interval(int, 1))``      a non-empty list or tuple whose items each meet the inner constraint
====================================  ==================================================================

The vocabulary is ours, on purpose small and declarative; it does not use scikit-learn's private
``_param_validation`` module.

>>> constraints = {"learning_rate": [Interval(float, 0, None, closed="right")],
...                "max_depth": [Interval(int, 1, None), None]}
>>> class Model:
...     learning_rate, max_depth = "fast", None
>>> validate_params(Model(), constraints)
Traceback (most recent call last):
...
forewarn.exceptions.ParameterError: The 'learning_rate' parameter of Model must be a float > 0. Got 'fast' instead.
>>> describe(constraints["max_depth"])
'an int >= 1 or None'
>>> invalid_value(constraints["max_depth"])
'not-a-valid-value'
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from forewarn.exceptions import ParameterError

Constraints = Mapping[str, Sequence[Any]]


class Constraint:
    """One accepted kind of value. Subclasses define :meth:`accepts`, ``__str__`` and :meth:`invalid`."""

    def accepts(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def invalid(self) -> list[Any]:
        """Values this constraint rejects (candidates for tests of the check)."""
        return []


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Interval(Constraint):
    """Numbers of ``kind`` (``int`` or ``float``) between ``low`` and ``high`` (``None``: unbounded).

    ``closed`` is ``"both"`` (default), ``"left"``, ``"right"`` or ``"neither"``: which bounds belong to the
    interval. A float interval takes ints too, never ``bool``, ``nan`` or infinity.
    """

    def __init__(
        self, kind: type, low: float | None = None, high: float | None = None, *, closed: str = "both"
    ) -> None:
        if kind not in (int, float) or closed not in ("both", "left", "right", "neither"):
            raise ValueError(
                f"Interval(kind={kind!r}, closed={closed!r}): kind is int or float, closed one of "
                "both, left, right, neither"
            )
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
            return False
        value = float(value)
        if self.low is not None and (value < self.low or (value == self.low and self.closed in ("right", "neither"))):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and self.closed in ("left", "neither")))
        )

    def __str__(self) -> str:
        noun = "an int" if self.kind is int else "a float"
        low_in, high_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is None and self.high is None:
            return noun
        if self.high is None:
            return f"{noun} {'>=' if low_in else '>'} {_number(self.low)}"  # type: ignore[arg-type]
        if self.low is None:
            return f"{noun} {'<=' if high_in else '<'} {_number(self.high)}"
        return (
            f"{noun} in the range {'[' if low_in else '('}{_number(self.low)}, {_number(self.high)}"
            f"{']' if high_in else ')'}"
        )

    def invalid(self) -> list[Any]:
        found: list[Any] = ["not-a-number"]
        if self.low is not None:
            found.append(self.low - 1 if self.kind is int else self.low - 0.5)
        if self.high is not None:
            found.append(self.high + 1 if self.kind is int else self.high + 0.5)
        if self.kind is int:
            found.append(1.5)
        return found


class Options(Constraint):
    """Exactly one of the listed values (compared with their type, so ``1`` is not ``True``)."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(option) and value == option for option in self.values)

    def __str__(self) -> str:
        listed = ", ".join(repr(v) for v in self.values)
        if all(isinstance(v, str) for v in self.values):
            return f"a str among {{{listed}}}"
        return f"one of {{{listed}}}"

    def invalid(self) -> list[Any]:
        return ["not-a-valid-option"]


class InstanceOf(Constraint):
    """An instance of ``types`` (one type or a tuple), described as ``name``."""

    def __init__(self, types: type | tuple[type, ...], name: str) -> None:
        self.types, self.name = types, name

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def __str__(self) -> str:
        return self.name

    def invalid(self) -> list[Any]:
        return [object()]


class Boolean(InstanceOf):
    """``True`` or ``False`` (Python or numpy booleans)."""

    def __init__(self) -> None:
        super().__init__((bool, np.bool_), "a bool")

    def invalid(self) -> list[Any]:
        return ["yes", 1]


class SequenceOf(Constraint):
    """A non-empty list or tuple (never a str) whose items each meet ``item``."""

    def __init__(self, item: Constraint) -> None:
        self.item = item

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and len(value) > 0 and all(self.item.accepts(v) for v in value)

    def __str__(self) -> str:
        return f"a non-empty list or tuple of items that are each {self.item}"

    def invalid(self) -> list[Any]:
        return [(), [bad for bad in self.item.invalid()[:1]]]


#: the one ``seed`` parameter of every model: a non-negative int numpy, LightGBM and scikit-learn all accept
SEED: list[Any] = [Interval(int, 0, 2**32 - 1)]
#: threads: a positive count, or -1 for all cores
N_JOBS: list[Any] = [Interval(int, 1), Options(-1)]


def _accepts(alternative: Any, value: Any) -> bool:
    if alternative is None:
        return value is None
    return bool(alternative.accepts(value))


def describe(alternatives: Sequence[Any]) -> str:
    """The alternatives in words, scikit-learn style: ``"a, b or c"``."""
    words = ["None" if a is None else str(a) for a in alternatives]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def validate_params(estimator: Any, constraints: Constraints) -> None:
    """Raise :class:`ParameterError` for the first parameter of ``estimator`` that meets none of its
    declared alternatives (parameters in declaration order)."""
    owner = type(estimator).__name__
    for name, alternatives in constraints.items():
        value = getattr(estimator, name)
        if not any(_accepts(a, value) for a in alternatives):
            raise ParameterError(
                f"The {name!r} parameter of {owner} must be {describe(alternatives)}. Got {value!r} instead.",
                param=name,
                estimator=owner,
            )


def invalid_value(alternatives: Sequence[Any]) -> Any:
    """A value that none of ``alternatives`` accepts (for tests that a bad value is rejected).

    >>> invalid_value([Options("sqrt", "log2"), Interval(float, 0, 1)])
    'not-a-valid-value'
    >>> isinstance(invalid_value([InstanceOf(str, "a str")]), str)
    False
    """
    candidates: list[Any] = ["not-a-valid-value"]
    for alternative in alternatives:
        if alternative is not None:
            candidates.extend(alternative.invalid())
    candidates.extend([-1, -0.5, 1.5, object()])
    for value in candidates:
        if not any(_accepts(a, value) for a in alternatives):
            return value
    raise ValueError(f"no value outside {describe(alternatives)} among the candidates")
