"""Gamma-Gamma: the published CDNOW fit, the density, its gradient and the conditional expected spend."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from siyu.core.errors import ValidationFailed
from siyu.predict import gamma_gamma
from siyu.predict.cdnow import PUBLISHED
from siyu.predict.data import SpendData
from siyu.predict.gamma_gamma import GammaGamma
from siyu.predict.summary import CustomerSummary

from .published import printed_digits, three_significant

CDNOW_FIT = GammaGamma(p=6.25, q=3.74, gamma=15.44)


def test_cdnow_fit_matches_the_note(cdnow: CustomerSummary) -> None:
    spend = cdnow.spend_data()
    assert spend.x.shape[0] == 946
    found = gamma_gamma.fit(spend)
    published = PUBLISHED["gamma_gamma"]
    assert found.converged
    for name, value in {"p": found.model.p, "q": found.model.q, "gamma": found.model.gamma}.items():
        assert three_significant(value, published[name]), (name, value)
        assert printed_digits(value, published[name]), (name, value)


@pytest.mark.parametrize("x", [1, 3, 12])
def test_density_of_the_mean_integrates_to_one(x: int) -> None:
    def density(m: float) -> float:
        return float(np.exp(CDNOW_FIT.log_likelihood(SpendData([x], [m]))))

    total, _ = integrate.quad(density, 0, np.inf, limit=200)
    assert total == pytest.approx(1.0, rel=1e-7)


def test_gradient_matches_finite_differences(cdnow: CustomerSummary) -> None:
    likelihood = gamma_gamma._Likelihood(cdnow.spend_data())
    theta = np.log([3.0, 2.0, 20.0])
    _, grad = likelihood(theta)
    numeric = [(likelihood(theta + 1e-6 * e)[0] - likelihood(theta - 1e-6 * e)[0]) / 2e-6 for e in np.eye(3)]
    assert grad == pytest.approx(numeric, rel=1e-5)


def test_conditional_spend_shrinks_towards_the_population_mean() -> None:
    population = CDNOW_FIT.mean_spend()
    assert population == pytest.approx(6.25 * 15.44 / 2.74)
    spend = CDNOW_FIT.conditional_expected_spend([0, 1, 10, 1000], [0, 80.0, 80.0, 80.0])
    assert spend[0] == pytest.approx(population)
    weight = 6.25 * 10 / (6.25 * 10 + 3.74 - 1)
    assert spend[2] == pytest.approx(weight * 80 + (1 - weight) * population)
    assert population < spend[1] < spend[2] < spend[3] < 80.0
    with pytest.raises(ValidationFailed):
        CDNOW_FIT.conditional_expected_spend([1, 2], [5.0])
    with pytest.raises(ValidationFailed):
        CDNOW_FIT.conditional_expected_spend([-1], [5.0])
    with pytest.raises(ValidationFailed, match="infinite"):
        GammaGamma(p=1.0, q=0.5, gamma=1.0).mean_spend()
    with pytest.raises(ValidationFailed, match="infinite"):
        GammaGamma(p=0.1, q=0.5, gamma=1.0).conditional_expected_spend([1], [5.0])
