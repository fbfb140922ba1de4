"""Seeded simulations: each fit recovers the parameters it was simulated from, within 4 standard errors
(observed information) that are themselves small; and the simulators agree with the models' E[X(t)]."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.predict import bgnbd, gamma_gamma, pareto_nbd
from siyu.predict.bgnbd import BGNBD
from siyu.predict.gamma_gamma import GammaGamma
from siyu.predict.pareto_nbd import ParetoNBD
from siyu.predict.simulate import simulate_bgnbd, simulate_pareto_nbd, simulate_spend

BG = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
PARETO = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669)
SPEND = GammaGamma(p=6.25, q=3.74, gamma=15.44)


def _ages(n: int, seed: int, weeks: tuple[int, int] = (26, 104)) -> np.ndarray:
    return np.random.default_rng(seed).integers(weeks[0] * 7, weeks[1] * 7 + 1, n) / 7


def _recovered(
    truth: dict[str, float], found: dict[str, float], errors: dict[str, float], max_se: float
) -> None:
    for name, value in truth.items():
        assert errors[name] <= max_se * value, (name, errors[name])  # the test has power
        assert abs(found[name] - value) <= 4 * errors[name], (name, found[name], value, errors[name])


def test_bgnbd_recovers_its_parameters() -> None:
    data = simulate_bgnbd(BG, _ages(100_000, 1), seed=11, steps=7)
    found = bgnbd.fit(data)
    assert found.converged
    model = found.model
    estimates = {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}
    truth = {"r": BG.r, "alpha": BG.alpha, "a": BG.a, "b": BG.b}
    _recovered(truth, estimates, bgnbd.parameter_errors(model, data), max_se=0.05)


def test_pareto_nbd_recovers_its_parameters() -> None:
    # a CDNOW-like cohort (first purchases spread over 12 weeks): few distinct (x, t) pairs keep 2F1 cheap
    data = simulate_pareto_nbd(PARETO, _ages(100_000, 2, weeks=(27, 39)), seed=12, steps=7)
    found = pareto_nbd.fit(data)
    assert found.converged
    model = found.model
    estimates = {"r": model.r, "alpha": model.alpha, "s": model.s, "beta": model.beta}
    truth = {"r": PARETO.r, "alpha": PARETO.alpha, "s": PARETO.s, "beta": PARETO.beta}
    _recovered(truth, estimates, pareto_nbd.parameter_errors(model, data), max_se=0.1)


def test_gamma_gamma_recovers_its_parameters() -> None:
    counts = np.random.default_rng(3).integers(1, 8, 50_000)
    data = simulate_spend(SPEND, counts, seed=13)
    model = gamma_gamma.fit(data).model
    estimates = {"p": model.p, "q": model.q, "gamma": model.gamma}
    truth = {"p": SPEND.p, "q": SPEND.q, "gamma": SPEND.gamma}
    _recovered(truth, estimates, gamma_gamma.parameter_errors(model, data), max_se=0.06)


@pytest.mark.parametrize(
    ("model", "simulate"), [(BG, simulate_bgnbd), (PARETO, simulate_pareto_nbd)], ids=["bgnbd", "pareto_nbd"]
)
def test_simulated_purchases_average_to_the_expected_number(model, simulate) -> None:  # type: ignore[no-untyped-def]
    data = simulate(model, np.full(200_000, 39.0), seed=21)
    mean, spread = data.x.mean(), data.x.std() / np.sqrt(data.x.shape[0])
    assert abs(mean - model.expected_purchases(39.0)) <= 4 * spread
    assert np.all(data.t_x <= data.T) and np.all(data.t_x[data.x == 0] == 0)


def test_simulated_spend_averages_to_the_mean_spend() -> None:
    data = simulate_spend(SPEND, np.ones(400_000), seed=22)
    # E[m] = pγ/(q-1); its variance is finite when q > 2
    mean, spread = data.m_x.mean(), data.m_x.std() / np.sqrt(400_000)
    assert abs(mean - SPEND.mean_spend()) <= 4 * spread


def test_same_seed_same_customers() -> None:
    ages = _ages(1000, 4)
    first, again = simulate_bgnbd(BG, ages, seed=5), simulate_bgnbd(BG, ages, seed=5)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.t_x, again.t_x)
    rounded = simulate_bgnbd(BG, ages, seed=5, steps=7)
    assert np.allclose(rounded.t_x * 7, np.round(rounded.t_x * 7))
