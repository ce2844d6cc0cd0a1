"""Parameter specs: samplers hit their mean and CV; invalid specs name the parameter."""

import numpy as np
import pytest
from brian2 import ms, mV
from scipy import stats

from cortex.heterogeneity import DISTRIBUTIONS, ParamSpec, as_spec
from cortex.seeds import make_rng

N = 200_000


@pytest.mark.parametrize("dist", ["gamma", "lognormal", "truncnorm", "uniform", "normal"])
@pytest.mark.parametrize("cv", [0.1, 0.3, 0.5])
def test_sample_mean_and_cv(dist, cv):
    spec = ParamSpec(20 * ms, cv=cv, dist=dist, name="tau_m")
    x = np.asarray(spec.sample(N, seed=0)) / float(ms)
    assert x.shape == (N,)
    assert x.mean() == pytest.approx(20.0, rel=0.01)
    assert x.std() / x.mean() == pytest.approx(cv, rel=0.03)
    if dist != "normal":
        assert x.min() > 0, "positive parameters must stay positive"


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_homogeneous_variant_keeps_the_mean(dist):
    spec = ParamSpec(20 * ms, cv=0.4, dist=dist, name="tau_m")
    homo = spec.homogeneous()
    assert homo.mean == spec.mean and homo.cv == 0
    x = np.asarray(homo.sample(1000, seed=1))
    assert np.all(x == x[0]) and x[0] == pytest.approx(0.020)


def test_units_are_kept_and_signed_parameters_work():
    v = ParamSpec(-50 * mV, cv=0.05, dist="normal", name="v_th").sample(5000, seed=3)
    assert v.dim == mV.dim
    assert float(np.mean(v / mV)) == pytest.approx(-50, rel=0.01)


def test_seed_reproducibility_int_and_generator():
    spec = ParamSpec(20 * ms, cv=0.5)
    a = spec.sample(100, seed=7)
    b = spec.sample(100, seed=7)
    c = spec.sample(100, seed=np.random.default_rng(7))
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not np.array_equal(a, spec.sample(100, seed=8))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(mean=20 * ms, cv=-0.1), "cv must be >= 0"),
        (dict(mean=20 * ms, cv=0.2, dist="cauchy"), "unknown distribution"),
        (dict(mean=-20 * ms, cv=0.2, dist="gamma"), "positive mean"),
        (dict(mean=20 * ms, cv=0.9, dist="uniform"), "negative values"),
        (dict(mean=20 * ms, cv=0.9, dist="truncnorm"), "too large"),
    ],
)
def test_invalid_specs_raise_naming_the_parameter(kwargs, msg):
    with pytest.raises(ValueError, match=f"tau_m: .*{msg}"):
        ParamSpec(**kwargs, name="tau_m")


def test_as_spec_from_config_mapping():
    spec = as_spec({"mean": 0.01, "cv": 0.5, "dist": "lognormal"}, "A_plus")
    assert spec == ParamSpec(0.01, 0.5, "lognormal", name="A_plus")
    with pytest.raises(ValueError, match="A_plus: unknown key"):
        as_spec({"mean": 1, "sd": 2}, "A_plus")
    assert as_spec(3.0, "x").is_homogeneous


@pytest.mark.parametrize("dist", ["gamma", "lognormal", "uniform"])
def test_low_truncates_the_distribution(dist):
    """Draws under ``low`` are drawn again: the values follow the distribution given ``>= low``."""
    plain = ParamSpec(10 * ms, cv=0.55, dist=dist, name="tau_m")
    floored = ParamSpec(10 * ms, cv=0.55, dist=dist, name="tau_m", low=4 * ms)
    x = np.asarray(plain.sample(N, seed=0)) / float(ms)
    y = np.asarray(floored.sample(N, seed=0)) / float(ms)
    assert x.min() < 4 and y.min() >= 4
    keep = x >= 4
    np.testing.assert_array_equal(y[keep], x[keep])  # the first pass is the plain draw; only the tail is redrawn
    # the mean of the truncated distribution, by numerical integration of the plain one's density
    k = 1 / 0.55**2
    s2 = np.log1p(0.55**2)
    w = np.sqrt(3) * 0.55 * 10
    pdf = {
        "gamma": stats.gamma(k, scale=10 / k),
        "lognormal": stats.lognorm(np.sqrt(s2), scale=np.exp(np.log(10) - s2 / 2)),
        "uniform": stats.uniform(10 - w, 2 * w),
    }[dist]
    assert y.mean() == pytest.approx(pdf.expect(lambda t: t, lb=4, conditional=True), rel=0.01)
    # without a bound the draws are NumPy's own, as before bounds existed
    raw = {
        "gamma": lambda rng: rng.gamma(k, 10 / k, size=50),
        "lognormal": lambda rng: rng.lognormal(np.log(10) - s2 / 2, np.sqrt(s2), size=50),
        "uniform": lambda rng: rng.uniform(10 - w, 10 + w, size=50),
    }[dist](np.random.default_rng(3))
    np.testing.assert_allclose(np.asarray(plain.sample(50, seed=3) / ms), raw, rtol=1e-12)


def test_low_is_checked_and_described():
    with pytest.raises(ValueError, match="tau_m: the lower bound 20. ms must lie below the mean"):
        ParamSpec(20 * ms, 0.5, name="tau_m", low=20 * ms)
    with pytest.raises(ValueError, match="tau_m: low must have the mean's unit"):
        ParamSpec(20 * ms, 0.5, name="tau_m", low=2)
    with pytest.raises(ValueError, match="tau_m: low must be a number in the mean's unit, got '2 ms'"):
        ParamSpec(20 * ms, 0.5, name="tau_m", low="2 ms")  # as a YAML mapping could give it
    ParamSpec(20 * ms, 0.0, name="tau_m", low=20 * ms)  # homogeneous: the mean itself is allowed
    spec = as_spec({"mean": 20 * ms, "cv": 1.0, "low": 2 * ms}, "tau_m")
    assert spec.describe() == "tau_m ~ gamma(mean=20 ms, cv=1, >= 2 ms)"
    assert np.asarray(spec.sample(10_000, seed=1) / ms).min() >= 2


def test_make_rng_rejects_other_types():
    with pytest.raises(TypeError, match="seed"):
        make_rng("42")


def test_describe_writes_four_significant_digits_in_the_best_unit():
    tuned = as_spec(dict(mean=58.29140382 * ms, cv=0.153067, dist="uniform"), "tau_m")
    assert tuned.describe() == "tau_m ~ uniform(mean=58.29 ms, cv=0.1531)"
    assert as_spec(20 * ms, "tau_m").describe() == "tau_m = 20 ms (homogeneous)"
    assert as_spec(dict(mean=0.0105, cv=0.5, dist="gamma"), "A").describe() == "A ~ gamma(mean=0.0105, cv=0.5)"
