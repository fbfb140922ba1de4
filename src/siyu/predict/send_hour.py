"""Best send hour per customer: a Dirichlet-multinomial estimate of the hour of day (local) at which a
customer opens, clicks or replies, with the prior taken from the customer's group (e.g. lifecycle stage).

Each customer i has hour probabilities θ_i ~ Dirichlet(κ m_g), where m_g is the mean hour profile of
their group g and κ the prior's strength in pseudo-events; their counts n_i ~ Multinomial(N_i, θ_i). The
posterior is Dirichlet(κ m_g + n_i), whose mean (κ m_g + n_i)/(κ + N_i) we maximise over the 24 hours;
with no history that is the group's own best hour. m_g is the group's pooled counts shrunk towards
everyone's (Laplace-smoothed) profile with `group_strength` pseudo-events; κ is the maximum-likelihood
precision of the Dirichlet-multinomial with those means (Minka 2000, "Estimating a Dirichlet
distribution", the Pólya likelihood with the mean held fixed), found by a bounded search on ln κ of
  ln L(κ) = Σ_i [ln Γ(κ) - ln Γ(N_i + κ) + Σ_h (ln Γ(n_ih + κ m_h) - ln Γ(κ m_h))],
where only hours with n_ih > 0 contribute to the inner sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special  # type: ignore[import-untyped]

from siyu.core.errors import ValidationFailed
from siyu.predict.data import Vector

HOURS = 24
IntArray = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float64]
KAPPA_BOUNDS = (0.5, 1000.0)
CHUNK = 100_000


@dataclass(frozen=True)
class SendHours:
    """Best local hour per customer, and the model behind it."""

    best_hour: IntArray  # 0..23 for every customer
    observed: npt.NDArray[np.bool_]  # the customer has history (else the group prior decided)
    kappa: float
    group_means: Matrix  # groups × 24
    overall: Vector  # 24


def hour_counts(rows: IntArray, hours: IntArray, counts: IntArray, customers: int) -> tuple[IntArray, Matrix]:
    """Sparse (customer row, hour, count) triples → (rows with history, their dense 24-hour counts)."""
    if rows.shape[0] and (int(hours.min()) < 0 or int(hours.max()) >= HOURS):
        raise ValidationFailed("hours must be 0..23", field="hour")
    if rows.shape[0] and (int(rows.min()) < 0 or int(rows.max()) >= customers):
        raise ValidationFailed("a count names an unknown customer row", field="customer")
    present, compact = np.unique(rows, return_inverse=True)
    dense = np.zeros((present.shape[0], HOURS))
    np.add.at(dense, (compact.reshape(-1), hours), counts.astype(np.float64))
    return present.astype(np.int64), dense


def fit_kappa(counts: Matrix, means: Matrix, *, default: float = 10.0) -> float:
    """Maximum-likelihood Dirichlet-multinomial precision κ for rows of `counts` with prior means `means`
    (row-aligned). Rows with fewer than two events carry no information about κ and are ignored; with
    none left `default` is returned."""
    totals = counts.sum(axis=1)
    keep = totals >= 2
    if not keep.any():
        return default
    row, hour = np.nonzero(counts[keep])
    n = counts[keep][row, hour]
    m = means[keep][row, hour]
    total = totals[keep]

    def negative_log_likelihood(log_kappa: float) -> float:
        kappa = float(np.exp(log_kappa))
        per_customer = special.gammaln(kappa) - special.gammaln(total + kappa)
        per_hour = special.gammaln(n + kappa * m) - special.gammaln(kappa * m)
        return -float(per_customer.sum() + per_hour.sum())

    low, high = np.log(KAPPA_BOUNDS)
    found = optimize.minimize_scalar(
        negative_log_likelihood, bounds=(low, high), method="bounded", options={"xatol": 1e-4}
    )
    return float(np.exp(found.x))


def best_send_hours(
    groups: IntArray,
    rows: IntArray,
    hours: IntArray,
    counts: IntArray,
    *,
    group_strength: float = 24.0,
    group_count: int | None = None,
    kappa: float | None = None,
    fit_sample: int = 50_000,
    seed: int = 0,
) -> SendHours:
    """Best hour for each of `len(groups)` customers (group codes 0..G-1) from their sparse local-hour
    counts; `group_count` groups (default: the largest code + 1); `kappa` fixed, or None to fit it on up
    to `fit_sample` customers with history."""
    n = groups.shape[0]
    if n and int(groups.min()) < 0:
        raise ValidationFailed("group codes must not be negative", field="group")
    if group_strength <= 0:
        raise ValidationFailed("group_strength must be positive", field="group_strength")
    present, dense = hour_counts(rows, hours, counts, n)
    g = max(group_count or 0, int(groups.max()) + 1 if n else 0)
    overall = dense.sum(axis=0) + 1.0
    overall /= overall.sum()
    pooled = np.zeros((g, HOURS))
    np.add.at(pooled, groups[present], dense)
    means = (pooled + group_strength * overall) / (pooled.sum(axis=1, keepdims=True) + group_strength)
    if kappa is None:
        sample = np.arange(present.shape[0])
        if sample.shape[0] > fit_sample:
            sample = np.random.default_rng(seed).choice(sample, fit_sample, replace=False)
        kappa = fit_kappa(dense[sample], means[groups[present[sample]]])
    elif kappa <= 0:
        raise ValidationFailed("kappa must be positive", field="kappa")
    best = np.argmax(means, axis=1)[groups] if n else np.zeros(0, dtype=np.int64)
    for start in range(0, present.shape[0], CHUNK):
        part = slice(start, start + CHUNK)
        posterior = kappa * means[groups[present[part]]] + dense[part]  # ∝ the posterior mean
        best[present[part]] = np.argmax(posterior, axis=1)
    observed = np.zeros(n, dtype=np.bool_)
    observed[present] = True
    return SendHours(best.astype(np.int64), observed, float(kappa), means, overall)
