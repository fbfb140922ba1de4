"""Pareto/NBD: the published CDNOW fit, the closed-form likelihood against direct integration, and the
prediction formulas against lifetimes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from siyu.core.errors import ValidationFailed
from siyu.predict import pareto_nbd
from siyu.predict.cdnow import PUBLISHED
from siyu.predict.data import FrequencyData
from siyu.predict.pareto_nbd import ParetoNBD
from siyu.predict.summary import CustomerSummary

from .published import printed_digits, three_significant

CDNOW_FIT = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669)
ROWS = FrequencyData(
    [0, 1, 2, 5, 29, 3, 12],
    [0, 2.0, 30.43, 20.0, 38.43, 38.0, 5.0],
    [38.86, 38.86, 38.86, 32.0, 38.86, 38.0, 30.0],
)


def test_cdnow_fit_matches_the_paper(cdnow: CustomerSummary) -> None:
    found = pareto_nbd.fit(cdnow.frequency_data())
    published = PUBLISHED["pareto_nbd"]
    assert found.converged
    params = {"r": found.model.r, "alpha": found.model.alpha, "s": found.model.s, "beta": found.model.beta}
    for name, value in params.items():
        assert three_significant(value, published[name]), (name, value)
        assert printed_digits(value, published[name]), (name, value)
    assert abs(found.log_likelihood - published["log_likelihood"]) <= 0.1


def _integrated(model: ParetoNBD, x: float, t_x: float, T: float) -> tuple[float, float]:
    """ln of (alive at T, dropped out in (t_x, T]) by integrating over the death time."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    purchases = special.gamma(r + x) * alpha**r / special.gamma(r)
    alive = purchases / (alpha + T) ** (r + x) * (beta / (beta + T)) ** s

    def died_at(tau: float) -> float:
        return float(s * beta**s / (beta + tau) ** (s + 1) / (alpha + tau) ** (r + x))

    dead, _ = integrate.quad(died_at, t_x, T, epsabs=0, epsrel=1e-13, limit=200)
    return float(np.log(alive)), float(np.log(purchases * dead)) if dead > 0 else -np.inf


@pytest.mark.parametrize(
    "model",
    [
        CDNOW_FIT,  # α < β
        ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=3.0),  # α > β
        ParetoNBD(r=2.0, alpha=7.0, s=1.0, beta=7.0),  # α = β, s = 1
        ParetoNBD(r=0.2, alpha=150.0, s=2.5, beta=0.4),  # series argument close to 1
        ParetoNBD(r=5.0, alpha=0.3, s=0.05, beta=90.0),
    ],
    ids=["cdnow", "alpha>beta", "equal", "z-near-1", "alpha<<beta"],
)
def test_likelihood_equals_direct_integration(model: ParetoNBD) -> None:
    rows = FrequencyData([0, 1, 4, 40, 3], [0, 0.5, 20.0, 35.0, 10.0], [30.0, 30.0, 38.0, 36.0, 10.0])
    expected = [_integrated(model, *row) for row in zip(rows.x, rows.t_x, rows.T, strict=True)]
    total = [np.logaddexp(alive, dead) + 0 for alive, dead in expected]
    assert model.customer_log_likelihood(rows) == pytest.approx(total, rel=1e-9)
    assert model.p_alive(rows) == pytest.approx([1 / (1 + np.exp(d - a)) for a, d in expected], rel=1e-8)


def test_both_branches_meet_where_alpha_equals_beta() -> None:
    below, above = ParetoNBD(0.5, 9.999999, 0.6, 10.0), ParetoNBD(0.5, 10.000001, 0.6, 10.0)
    assert below.log_likelihood(ROWS) == pytest.approx(above.log_likelihood(ROWS), rel=1e-7)


def test_predictions_agree_with_lifetimes() -> None:
    # lifetimes 0.11.3 (ParetoNBDFitter with params_ set to CDNOW_FIT), 39-week horizon
    assert CDNOW_FIT.p_alive(ROWS) == pytest.approx(
        [0.295286604617, 0.175259673016, 0.869167559153, 0.611704513163, 0.994109839535, 1.0, 7.9884709e-05],
        rel=1e-9,
    )
    assert CDNOW_FIT.conditional_expected_purchases(39, ROWS) == pytest.approx(
        [
            0.107081468215,
            0.178483836575,
            1.455123193258,
            2.52792575981,
            19.265548852543,
            2.365057345521,
            0.000776986316,
        ],
        rel=1e-9,
    )
    assert CDNOW_FIT.expected_purchases(39) == pytest.approx(1.2130028442810157, rel=1e-12)


def test_s_equal_one_takes_the_limit() -> None:
    exact = ParetoNBD(0.5, 10.0, 1.0, 12.0).conditional_expected_purchases(20, ROWS)
    near = ParetoNBD(0.5, 10.0, 1.0 + 1e-7, 12.0).conditional_expected_purchases(20, ROWS)
    assert exact == pytest.approx(near, rel=1e-6)
    assert ParetoNBD(0.5, 10.0, 1.0, 12.0).expected_purchases(20) == pytest.approx(
        0.5 / 10 * 12 * np.log(32 / 12)
    )


def test_last_purchase_at_T_means_alive() -> None:
    assert CDNOW_FIT.p_alive(FrequencyData([2], [9.0], [9.0]))[0] == 1.0
    with pytest.raises(ValidationFailed):
        CDNOW_FIT.conditional_expected_purchases(-3, ROWS)
    with pytest.raises(ValidationFailed):
        ParetoNBD(r=0.5, alpha=1.0, s=-0.1, beta=1.0)


def test_no_repeat_purchase_cannot_be_fitted() -> None:
    with pytest.raises(ValidationFailed, match="no customer made a repeat purchase"):
        pareto_nbd.fit(FrequencyData([0, 0], [0, 0], [3, 5]))


def test_predict_gives_both_in_one_pass() -> None:
    both = CDNOW_FIT.predict(13, ROWS)
    assert np.array_equal(both.p_alive, CDNOW_FIT.p_alive(ROWS))
    assert np.array_equal(both.expected_purchases, CDNOW_FIT.conditional_expected_purchases(13, ROWS))
