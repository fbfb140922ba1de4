"""BG/NBD: the published CDNOW fit, the likelihood and gradient, and the prediction formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from siyu.core.errors import ValidationFailed
from siyu.predict import bgnbd
from siyu.predict.bgnbd import BGNBD
from siyu.predict.cdnow import PUBLISHED
from siyu.predict.data import FrequencyData
from siyu.predict.summary import CustomerSummary

from .published import printed_digits, three_significant

CDNOW_FIT = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
# (x, t_x, T) rows: no repeat, early and late repeaters, the heaviest CDNOW buyer, t_x = T, a lapsed buyer
ROWS = FrequencyData(
    [0, 1, 2, 5, 29, 3, 12],
    [0, 2.0, 30.43, 20.0, 38.43, 38.0, 5.0],
    [38.86, 38.86, 38.86, 32.0, 38.86, 38.0, 30.0],
)


def test_cdnow_fit_matches_the_paper(cdnow: CustomerSummary) -> None:
    found = bgnbd.fit(cdnow.frequency_data())
    published = PUBLISHED["bgnbd"]
    assert found.converged
    params = {"r": found.model.r, "alpha": found.model.alpha, "a": found.model.a, "b": found.model.b}
    for name, value in params.items():
        assert three_significant(value, published[name]), (name, value)
        assert printed_digits(value, published[name]), (name, value)
    assert abs(found.log_likelihood - published["log_likelihood"]) <= 0.1
    assert found.customers == 2357


def test_grouping_changes_nothing_but_the_speed(cdnow: CustomerSummary) -> None:
    data = cdnow.frequency_data()
    grouped, raw = bgnbd.fit(data), bgnbd.fit(data, group=False)
    assert grouped.log_likelihood == pytest.approx(raw.log_likelihood, abs=1e-6)
    assert grouped.model.b == pytest.approx(raw.model.b, rel=1e-5)
    assert CDNOW_FIT.log_likelihood(data.grouped()) == pytest.approx(CDNOW_FIT.log_likelihood(data), abs=1e-8)


def test_log_likelihood_is_equation_6() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    expected = []
    for x, t_x, T in zip(ROWS.x, ROWS.t_x, ROWS.T, strict=True):
        common = special.gamma(r + x) * alpha**r / special.gamma(r)
        value = special.beta(a, b + x) / special.beta(a, b) * common / (alpha + T) ** (r + x)
        if x > 0:
            value += special.beta(a + 1, b + x - 1) / special.beta(a, b) * common / (alpha + t_x) ** (r + x)
        expected.append(np.log(value))
    assert CDNOW_FIT.customer_log_likelihood(ROWS) == pytest.approx(expected, rel=1e-12)
    assert CDNOW_FIT.log_likelihood(ROWS) == pytest.approx(sum(expected), rel=1e-12)


def test_analytic_gradient_matches_finite_differences(cdnow: CustomerSummary) -> None:
    likelihood = bgnbd._Likelihood(cdnow.frequency_data().grouped())
    for theta in (np.log([0.243, 4.414, 0.793, 2.426]), np.log([1.3, 0.7, 2.5, 0.4])):
        _, grad = likelihood(theta)
        step = 1e-6
        numeric = [
            (likelihood(theta + step * e)[0] - likelihood(theta - step * e)[0]) / (2 * step)
            for e in np.eye(4)
        ]
        assert grad == pytest.approx(numeric, rel=1e-5, abs=1e-4)


def test_predictions_agree_with_lifetimes() -> None:
    # lifetimes 0.11.3 (BetaGeoFitter with params_ set to CDNOW_FIT), 39-week horizon
    assert CDNOW_FIT.p_alive(ROWS) == pytest.approx(
        [1.0, 0.221870900565, 0.726578570081, 0.499037716302, 0.966274633619, 0.848055182985, 2.169409e-06],
        rel=1e-9,
    )
    assert CDNOW_FIT.conditional_expected_purchases(39, ROWS) == pytest.approx(
        [
            0.195098052011,
            0.212546300651,
            1.226028174767,
            2.186641975884,
            19.677377187278,
            2.070953061124,
            2.2520242e-05,
        ],
        rel=1e-9,
    )
    assert CDNOW_FIT.expected_purchases(39) == pytest.approx(1.1967231933207985, rel=1e-12)


def test_euler_form_equals_equation_10_as_printed() -> None:
    r, alpha, a, b, t = 0.243, 4.414, 0.793, 2.426, 39.0
    x, T = ROWS.x, ROWS.T
    z = t / (alpha + T + t)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    printed = (a + b + x - 1) / (a - 1) * bracket * CDNOW_FIT.p_alive(ROWS)
    assert CDNOW_FIT.conditional_expected_purchases(t, ROWS) == pytest.approx(printed, rel=1e-12)


def test_large_inputs_group_before_2f1() -> None:
    rng = np.random.default_rng(5)
    n = bgnbd.GROUP_ABOVE + 500
    T = rng.integers(0, 200, n) / 7
    x = rng.integers(0, 4, n) * (T > 0)
    data = FrequencyData(x, np.where(x > 0, T * rng.random(n), 0), T)
    first = data.x[:100], data.t_x[:100], data.T[:100]
    small = FrequencyData(*first)
    assert CDNOW_FIT.conditional_expected_purchases(13, data)[:100] == pytest.approx(
        CDNOW_FIT.conditional_expected_purchases(13, small), rel=1e-13
    )


def test_p_alive_and_expectations_behave() -> None:
    never = FrequencyData([0, 0], [0, 0], [1, 50])
    assert CDNOW_FIT.p_alive(never).tolist() == [
        1.0,
        1.0,
    ]  # no repeat purchase: never had a chance to drop out
    quiet = FrequencyData([3, 3, 3], [10, 10, 10], [10, 20, 40])
    assert np.all(np.diff(CDNOW_FIT.p_alive(quiet)) < 0)  # the longer the silence, the less likely alive
    assert CDNOW_FIT.conditional_expected_purchases(0, ROWS).tolist() == [0.0] * 7
    assert CDNOW_FIT.expected_purchases(0) == 0.0
    newcomer = FrequencyData([0], [0], [0])
    assert CDNOW_FIT.conditional_expected_purchases(26, newcomer)[0] == pytest.approx(
        CDNOW_FIT.expected_purchases(26)
    )
    with pytest.raises(ValidationFailed):
        CDNOW_FIT.expected_purchases(-1)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_parameters_must_be_positive(bad: float) -> None:
    with pytest.raises(ValidationFailed) as caught:
        BGNBD(r=0.2, alpha=bad, a=0.8, b=2.4)
    assert caught.value.field == "alpha"


def test_no_repeat_purchase_cannot_be_fitted() -> None:
    with pytest.raises(ValidationFailed, match="no customer made a repeat purchase"):
        bgnbd.fit(FrequencyData([0, 0], [0, 0], [3, 5]))


def test_predict_gives_both_in_one_pass() -> None:
    both = CDNOW_FIT.predict(13, ROWS)
    assert np.array_equal(both.p_alive, CDNOW_FIT.p_alive(ROWS))
    assert np.array_equal(both.expected_purchases, CDNOW_FIT.conditional_expected_purchases(13, ROWS))
