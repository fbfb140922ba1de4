"""Best send hour: group priors for customers without history, personal history outweighing the prior
as it grows, the Dirichlet-multinomial precision recovered from simulated customers."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.core.errors import ValidationFailed
from siyu.predict.send_hour import HOURS, best_send_hours, fit_kappa


def triples(*rows: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


def test_customers_without_history_get_their_groups_best_hour() -> None:
    # group 0 reads at 20:00, group 1 at 08:00; customers 2 and 5 have no history
    groups = np.array([0, 0, 0, 1, 1, 1], dtype=np.int64)
    rows, hours, counts = triples((0, 20, 9), (1, 20, 7), (1, 21, 2), (3, 8, 8), (4, 8, 6), (4, 12, 1))
    result = best_send_hours(groups, rows, hours, counts, kappa=5.0)
    assert result.best_hour[2] == 20 and result.best_hour[5] == 8
    assert result.observed.tolist() == [True, True, False, True, True, False]
    np.testing.assert_allclose(result.group_means.sum(axis=1), 1.0)


def test_a_group_without_data_falls_back_to_everyone() -> None:
    groups = np.array([0, 0, 1], dtype=np.int64)
    rows, hours, counts = triples((0, 19, 5), (1, 19, 3))
    result = best_send_hours(groups, rows, hours, counts, kappa=5.0)
    assert result.best_hour[2] == 19
    assert result.overall.argmax() == 19 and result.overall.min() > 0


def test_personal_history_outweighs_the_prior_once_it_is_strong() -> None:
    groups = np.zeros(4, dtype=np.int64)
    # the crowd (customer 0) reads at 20:00; customer 1 opened once at 07:00, customer 2 twelve times
    rows, hours, counts = triples((0, 20, 200), (1, 7, 1), (2, 7, 12), (3, 7, 1))
    strong = best_send_hours(groups, rows, hours, counts, kappa=10.0)
    assert strong.best_hour[1] == 20  # one open does not beat a prior worth 10 events
    assert strong.best_hour[2] == 7
    weak = best_send_hours(groups, rows, hours, counts, kappa=0.5)
    assert weak.best_hour[1] == 7


def test_fit_kappa_recovers_the_simulated_precision() -> None:
    rng = np.random.default_rng(11)
    mean = rng.dirichlet(np.full(HOURS, 3.0))
    for kappa in (4.0, 40.0):
        theta = rng.dirichlet(kappa * mean, 6000)
        totals = rng.integers(2, 30, 6000)
        counts = np.array([rng.multinomial(n, p) for n, p in zip(totals, theta, strict=True)], float)
        estimate = fit_kappa(counts, np.tile(mean, (6000, 1)))
        assert estimate == pytest.approx(kappa, rel=0.15)


def test_fitted_kappa_is_used_when_none_is_given() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    groups = np.zeros(n, dtype=np.int64)
    mean = np.full(HOURS, 1 / HOURS)
    theta = rng.dirichlet(8.0 * mean, n)
    rows, hours, counts = [], [], []
    for i in range(n):
        for h, c in enumerate(rng.multinomial(10, theta[i])):
            if c:
                rows.append(i), hours.append(h), counts.append(c)
    result = best_send_hours(groups, np.array(rows), np.array(hours), np.array(counts))
    assert 4.0 < result.kappa < 16.0


def test_no_customers_and_bad_input() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert best_send_hours(empty, empty, empty, empty).best_hour.shape == (0,)
    groups = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValidationFailed) as hour:
        best_send_hours(groups, *triples((0, 24, 1)))
    assert hour.value.field == "hour"
    with pytest.raises(ValidationFailed) as row:
        best_send_hours(groups, *triples((2, 3, 1)))
    assert row.value.field == "customer"
    with pytest.raises(ValidationFailed) as kappa:
        best_send_hours(groups, *triples((0, 3, 1)), kappa=0.0)
    assert kappa.value.field == "kappa"
