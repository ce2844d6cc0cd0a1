"""Heterogeneity as data: a parameter given by its mean, CV and distribution.

A :class:`ParamSpec` describes how one model parameter (``tau_m``, ``A_plus``, ...)
varies across neurons or synapses.  The homogeneous variant of a spec is the same
spec with ``cv=0`` and the **same mean**, so that ablations (HoN vs HeN, HoS vs HeS)
compare like with like: only the spread changes.

Distributions, all parametrised by ``mean`` and ``cv = std / |mean|``:

``gamma``
    shape ``k = 1/cv**2``, scale ``mean*cv**2`` (positive means only).
``lognormal``
    ``sigma**2 = log(1 + cv**2)``, ``mu = log(mean) - sigma**2/2`` (positive means only).
``truncnorm``
    a normal truncated symmetrically about the mean (so the mean is exact), at
    ``mean +/- min(3*sigma, |mean|)`` for positive-valued parameters so samples
    never change sign; sigma is solved so that the *truncated* CV equals ``cv``.
``uniform``
    on ``mean*(1 +/- sqrt(3)*cv)``.
``normal``
    plain normal; allowed for signed parameters (voltages).

Any of them may be truncated below at ``low`` (e.g. a membrane time constant no
shorter than 2 ms): draws under ``low`` are drawn again, so the values follow the
distribution conditioned on ``>= low``.  Where the lower tail reaches ``low`` the
mean rises and the CV falls, by as much as the tail holds (gamma, mean 5 ms, CV 1.5,
``low`` 2 ms: half the draws lie below, and the values have mean 9.4 ms, CV 0.91), and
a homogeneous spec (its mean) no longer has the heterogeneous one's mean.  The redraws
come from the same generator, so values drawn after them from it change too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from brian2 import Quantity
from brian2.units.fundamentalunits import have_same_dimensions
from scipy import optimize, stats

from .seeds import SeedLike, make_rng

__all__ = ["ParamSpec", "SpecFields", "as_spec", "DISTRIBUTIONS"]

DISTRIBUTIONS = ("gamma", "lognormal", "truncnorm", "uniform", "normal")
_POSITIVE_ONLY = ("gamma", "lognormal")
#: Rounds of redrawing values under a spec's ``low`` before giving up.
_MAX_REDRAWS = 1000


def _truncnorm_sigma(mean: float, cv: float, half_width_factor: float = 3.0):
    """Underlying sigma and half-width of a symmetric truncated normal with target CV.

    Returns ``(sigma, half_width)`` such that ``N(mean, sigma)`` truncated to
    ``mean +/- half_width`` has standard deviation ``cv*|mean|``.
    """
    target = cv * abs(mean)
    cap = abs(mean)  # truncate before the value can change sign

    def trunc_std(sigma):
        h = min(half_width_factor * sigma, cap)
        a = h / sigma
        return sigma * np.sqrt(max(1.0 - 2.0 * a * stats.norm.pdf(a) / (2.0 * stats.norm.cdf(a) - 1.0), 0.0))

    # the largest std reachable is that of a uniform on mean +/- cap
    max_std = cap / np.sqrt(3.0)
    if target >= max_std * 0.999:
        raise ValueError(
            f"cv={cv} is too large for a sign-preserving truncated normal "
            f"(at most {max_std / abs(mean):.3f}); use 'gamma' or 'lognormal'"
        )
    sigma = optimize.brentq(lambda s: trunc_std(s) - target, target * 1e-3, target * 1e3)
    return sigma, min(half_width_factor * sigma, cap)


@dataclass(frozen=True)
class ParamSpec:
    """Distribution of one parameter over a population.

    Parameters
    ----------
    mean : float or brian2.Quantity
        Population mean, with the parameter's unit (e.g. ``20*ms``).
    cv : float, optional
        Coefficient of variation ``std/|mean|``; ``0`` (default) is homogeneous.
    dist : str, optional
        One of ``DISTRIBUTIONS``; default ``"gamma"``.
    name : str, optional
        Parameter name used in error messages (builders fill it in).
    low : float or brian2.Quantity, optional
        Lower bound, in the mean's unit: draws below it are drawn again (the
        distribution truncated at ``low``).  Must lie below the mean; None (default):
        no bound, and the draws are those of the plain distribution.

    Examples
    --------
    >>> from brian2 import ms
    >>> tau = ParamSpec(20*ms, cv=0.5, dist="gamma")
    >>> tau.homogeneous()
    ParamSpec(mean=20. * msecond, cv=0.0, dist='gamma', name=None, low=None)
    """

    mean: float | Quantity
    cv: float = 0.0
    dist: str = "gamma"
    name: str | None = None
    low: float | Quantity | None = None

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------
    @property
    def label(self) -> str:
        return self.name or "parameter"

    @property
    def unit(self):
        """Brian2 unit of the mean (``1`` for dimensionless)."""
        return Quantity(1.0, dim=self.mean.dim) if isinstance(self.mean, Quantity) else 1

    @property
    def mean_value(self) -> float:
        """Mean as a float in SI units."""
        return float(np.asarray(self.mean))

    @property
    def is_homogeneous(self) -> bool:
        return self.cv == 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter if the spec is impossible."""
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(
                f"{self.label}: unknown distribution {self.dist!r}; choose one of {', '.join(DISTRIBUTIONS)}"
            )
        m = np.asarray(self.mean)
        if m.ndim != 0 or not np.isfinite(m):
            raise ValueError(f"{self.label}: mean must be a finite scalar, got {self.mean!r}")
        if not np.isfinite(self.cv) or self.cv < 0:
            raise ValueError(f"{self.label}: cv must be >= 0, got {self.cv}")
        if self.cv > 0 and self.dist in _POSITIVE_ONLY and self.mean_value <= 0:
            raise ValueError(f"{self.label}: a {self.dist} distribution needs a positive mean, got {self.mean!r}")
        if self.cv > 0 and self.mean_value == 0:
            raise ValueError(f"{self.label}: cv is undefined for a zero mean")
        if self.dist == "uniform" and self.cv > 0 and self.mean_value > 0 and np.sqrt(3) * self.cv > 1:
            raise ValueError(
                f"{self.label}: a uniform distribution with cv={self.cv} "
                "would include negative values (cv must be <= 0.577)"
            )
        if self.low is not None:
            self._check_low()
        if self.dist == "truncnorm" and self.cv > 0:
            try:
                _truncnorm_sigma(self.mean_value, self.cv)
            except ValueError as exc:
                raise ValueError(f"{self.label}: {exc}") from None

    def _check_low(self) -> None:
        if isinstance(self.low, bool) or not isinstance(self.low, (int, float, np.number, Quantity)):
            raise ValueError(f"{self.label}: low must be a number in the mean's unit, got {self.low!r}")
        low = np.asarray(self.low)
        if not have_same_dimensions(self.low, self.mean):
            raise ValueError(f"{self.label}: low must have the mean's unit, got {self.low!r}")
        if low.ndim != 0 or not np.isfinite(low):
            raise ValueError(f"{self.label}: low must be a finite scalar, got {self.low!r}")
        if float(low) >= self.mean_value if self.cv > 0 else float(low) > self.mean_value:
            raise ValueError(f"{self.label}: the lower bound {self.low!s} must lie below the mean {self.mean!s}")

    def homogeneous(self) -> ParamSpec:
        """The same spec with zero spread (same mean, same distribution name)."""
        return replace(self, cv=0.0)

    def with_name(self, name: str) -> ParamSpec:
        return replace(self, name=name)

    def sample(self, n: int, seed: SeedLike = None):
        """Draw ``n`` values.

        Parameters
        ----------
        n : int
            Number of values (neurons or synapses).
        seed : int, numpy.random.Generator or None

        Returns
        -------
        ndarray or brian2.Quantity, shape (n,)
            Values carrying the mean's unit.
        """
        m, cv = self.mean_value, self.cv
        if cv == 0:
            values = np.full(n, m, dtype=float)
        else:
            rng = make_rng(seed)
            if self.dist == "gamma":
                k = 1.0 / cv**2
                values = rng.gamma(k, m / k, size=n)
            elif self.dist == "lognormal":
                s2 = np.log1p(cv**2)
                values = rng.lognormal(np.log(m) - s2 / 2, np.sqrt(s2), size=n)
            elif self.dist == "truncnorm":
                sigma, h = _truncnorm_sigma(m, cv)
                a = h / sigma
                values = stats.truncnorm.rvs(-a, a, loc=m, scale=sigma, size=n, random_state=rng)
            elif self.dist == "uniform":
                w = np.sqrt(3.0) * cv * abs(m)
                values = rng.uniform(m - w, m + w, size=n)
            else:  # normal
                values = rng.normal(m, cv * abs(m), size=n)
            if self.low is not None:
                values = self._redraw_below(values, rng)
        return values * self.unit if isinstance(self.mean, Quantity) else values

    def _redraw_below(self, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``values`` with every draw under ``low`` replaced by a new draw (rejection sampling)."""
        low = float(np.asarray(self.low))
        plain = replace(self, low=None)
        for _ in range(_MAX_REDRAWS):
            under = values < low
            if not under.any():
                return values
            values[under] = np.asarray(plain.sample(int(under.sum()), rng), dtype=float)
        raise ValueError(
            f"{self.label}: {_MAX_REDRAWS} rounds of redrawing left values below {self.low!s}; "
            f"{plain.describe()} puts almost no mass above it"
        )

    def describe(self) -> str:
        """``"tau_m ~ gamma(mean=20 ms, cv=0.6)"``: the spec in words, four significant digits."""
        if isinstance(self.mean, Quantity):
            best = self.mean.get_best_unit()
            mean = f"{float(self.mean / best):.4g} {best}"
        else:
            mean = f"{float(self.mean):.4g}"
        if self.cv == 0:
            return f"{self.label} = {mean} (homogeneous)"
        low = ""
        if self.low is not None:
            low = (
                f", >= {float(self.low / best):.4g} {best}"
                if isinstance(self.mean, Quantity)
                else f", >= {self.low:.4g}"
            )
        return f"{self.label} ~ {self.dist}(mean={mean}, cv={self.cv:.4g}{low})"


def as_spec(value, name: str) -> ParamSpec:
    """Coerce a number, Quantity, ``ParamSpec`` or mapping to a named ``ParamSpec``.

    A mapping takes the keys ``mean``, ``cv``, ``dist``, ``low`` (as a config file would give).
    """
    if isinstance(value, ParamSpec):
        spec = value
    elif isinstance(value, dict):
        unknown = set(value) - {"mean", "cv", "dist", "low"}
        if unknown:
            raise ValueError(f"{name}: unknown key(s) {sorted(unknown)}; expected mean, cv, dist, low")
        if "mean" not in value:
            raise ValueError(f"{name}: a parameter spec needs a 'mean'")
        spec = ParamSpec(
            value["mean"], value.get("cv", 0.0), value.get("dist", "gamma"), name=name, low=value.get("low")
        )
    else:
        spec = ParamSpec(value, 0.0, name=name)
    if spec.name != name:
        spec = spec.with_name(name)
    return spec


class SpecFields:
    """Mixin for frozen dataclasses whose every field is a value or a :class:`ParamSpec`.

    Gives ``from_dict`` (unknown keys are an error naming them), ``specs`` (every
    field as a named spec) and ``homogeneous`` (same means, zero spread).
    """

    @classmethod
    def from_dict(cls, values):
        """Build from a mapping; unknown keys raise ``ValueError`` naming the key."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def specs(self) -> dict[str, ParamSpec]:
        """Every field as a named, validated :class:`ParamSpec`."""
        return {f.name: as_spec(getattr(self, f.name), f.name) for f in fields(self)}

    def homogeneous(self):
        """Same means, zero spread in every parameter."""
        return replace(self, **{k: s.homogeneous() for k, s in self.specs().items()})
