"""Hyperparameter constraints as a table, checked by one function.

Estimators declare ``_parameter_constraints = {"n": Interval(int, 2, None), ...}``
(the scikit-learn idiom) and call :func:`validate_params` in ``fit``; every message
names the parameter, the rule and the value, with the unit where one applies::

    tau_m: a time constant must be positive, got -1.0 ms
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "Options", "InstanceOf", "TupleOf", "validate_params", "check_grid"]


@dataclass(frozen=True)
class Interval:
    """A finite number in ``[low, high]`` (``closed`` says which ends are included).

    NaN and infinities are never accepted (an infinite gain or time constant turns a
    simulation into NaNs without an error).

    Parameters
    ----------
    kind : {int, float}
        ``int`` accepts integers only; ``float`` any real number (ints included).
    low, high : float or None
        Bounds (None: unbounded).
    closed : {"both", "left", "right", "neither"}
    what : str
        What the value is, for the message (``"a time constant"``).
    unit : str
        Unit, for the message (``"ms"``).
    """

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"
    what: str = ""
    unit: str = ""

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(value):  # NaN and +-inf: never a valid setting
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not right)))

    def describe(self) -> str:
        kind = "an integer " if self.kind is int else ""
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low == 0 and self.high is None and not left and self.kind is not int:
            return "positive"
        if self.low is not None and self.high is not None:
            return f"{kind}in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"
        if self.low is not None:
            return f"{kind}{'>=' if left else '>'} {self.low:g}"
        if self.high is not None:
            return f"{kind}{'<=' if right else '<'} {self.high:g}"
        return kind.strip() or "a number"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    choices: tuple

    def accepts(self, value) -> bool:
        # True == 1 in Python: a boolean matches only a boolean choice, and vice versa
        try:
            return any(
                value is c if isinstance(c, bool) else (not isinstance(value, bool) and value == c)
                for c in self.choices
            )
        except (TypeError, ValueError):  # arrays and other odd values
            return False

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of one of ``types`` (for example ``numpy.random.Generator``)."""

    types: tuple
    what: str = ""

    def accepts(self, value) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        return self.what or " or ".join(f"a {t.__name__}" for t in self.types)


@dataclass(frozen=True)
class TupleOf:
    """A non-empty tuple or list whose items all satisfy ``item`` (distinct ones if ``unique``).

    ``rule`` describes the whole rule for the message (``"a non-empty tuple of grid sizes"``).
    """

    item: Interval | Options | InstanceOf
    rule: str
    unique: bool = False

    def accepts(self, value) -> bool:
        if not isinstance(value, tuple | list) or not value:
            return False
        try:
            if self.unique and len(set(value)) != len(value):
                return False
        except TypeError:  # unhashable items
            return False
        return all(self.item.accepts(v) for v in value)

    def describe(self) -> str:
        return self.rule


def validate_params(params: dict, constraints: dict) -> None:
    """Check every parameter against its constraint (a constraint or a tuple of alternatives).

    Raises
    ------
    ValueError
        ``"<name>: <what> must be <rule>, got <value> <unit>"`` (``"<name>: expected one of
        ..., got <value>"`` for choices) for the first violation.
    """
    for name, rule in constraints.items():
        value = params[name]
        alternatives = rule if isinstance(rule, tuple) else (rule,)
        if any(alt is None and value is None or alt is not None and alt.accepts(value) for alt in alternatives):
            continue
        first = next(a for a in alternatives if a is not None)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            raise ValueError(f"{name}: must be a finite number, got {value!r}")
        if all(isinstance(a, Interval) or a is None for a in alternatives) and not (
            isinstance(value, numbers.Real) and not isinstance(value, bool)
        ):
            what = getattr(first, "what", "")
            rules = " or ".join("None" if a is None else a.describe() for a in alternatives)
            raise ValueError(
                f"{name}: {what + ' ' if what else ''}must be {rules}, got {value!r} "
                f"(a {type(value).__name__}, not a number)"
            )
        what, unit = getattr(first, "what", ""), getattr(first, "unit", "")
        rules = " or ".join("None" if a is None else a.describe() for a in alternatives)
        if isinstance(first, Options) and len(alternatives) == 1:
            raise ValueError(f"{name}: expected {rules}, got {value!r}")
        raise ValueError(
            f"{name}: {what + ' ' if what else ''}must be {rules}, got {value!r}"
            + (f" {unit}" if unit and isinstance(value, numbers.Real) else "")
        )


def check_grid(value, name: str) -> tuple[int, int]:
    """``value`` as a grid ``(gx, gy)`` of two integers >= 1; ``ValueError`` naming ``name`` otherwise."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value)
    ):
        raise ValueError(f"{name}: expected two integers >= 1 (gx, gy), got {value!r}")
    return int(value[0]), int(value[1])
