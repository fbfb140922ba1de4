"""Seeded draws of customers from known model parameters, to check that the fits recover them.

Draws summaries (x, t_x, T) directly from each model's story; `steps` rounds times to whole days (7 a week).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from siyu.predict.bgnbd import BGNBD
from siyu.predict.data import FrequencyData, SpendData, Vector, as_vector
from siyu.predict.gamma_gamma import GammaGamma
from siyu.predict.pareto_nbd import ParetoNBD

Seed = int | np.random.Generator


def simulate_bgnbd(model: BGNBD, T: npt.ArrayLike, seed: Seed, *, steps: int = 0) -> FrequencyData:
    """Customers of age T: λ ~ Gamma(r, α); after each repeat purchase they leave with p ~ Beta(a, b)."""
    rng, ages = np.random.default_rng(seed), _ages(T)
    n = ages.shape[0]
    rate = rng.gamma(model.r, 1 / model.alpha, n)
    leave = np.clip(rng.beta(model.a, model.b, n), 1e-12, 1.0)
    arrivals = rng.poisson(rate * ages)  # purchases if they never left
    last = rng.geometric(leave)  # the repeat purchase after which they leave
    x = np.minimum(arrivals, last)
    return _frequency(rng, x, arrivals, ages, ages, steps)


def simulate_pareto_nbd(model: ParetoNBD, T: npt.ArrayLike, seed: Seed, *, steps: int = 0) -> FrequencyData:
    """Customers of age T: λ ~ Gamma(r, α) while alive; lifetime ~ Exp(μ) with μ ~ Gamma(s, β)."""
    rng, ages = np.random.default_rng(seed), _ages(T)
    n = ages.shape[0]
    rate = rng.gamma(model.r, 1 / model.alpha, n)
    death = rng.gamma(model.s, 1 / model.beta, n)
    active = np.minimum(rng.exponential(1.0, n) / death, ages)
    x = rng.poisson(rate * active)
    return _frequency(rng, x, x, active, ages, steps)


def simulate_spend(model: GammaGamma, x: npt.ArrayLike, seed: Seed) -> SpendData:
    """Mean value of x transactions each Gamma(p, ν), with the customer's ν ~ Gamma(q, γ)."""
    rng = np.random.default_rng(seed)
    counts = as_vector(x, "frequency")
    nu = rng.gamma(model.q, 1 / model.gamma, counts.shape[0])
    total = rng.gamma(model.p * counts, 1 / nu)
    return SpendData(counts, total / counts)


def _ages(T: npt.ArrayLike) -> Vector:
    return as_vector(T, "T")


def _frequency(
    rng: np.random.Generator,
    x: npt.NDArray[np.int64],
    arrivals: npt.NDArray[np.int64],
    span: Vector,
    ages: Vector,
    steps: int,
) -> FrequencyData:
    """t_x is the x-th of `arrivals` uniform points on [0, span]: span · Beta(x, arrivals - x + 1)."""
    t_x = np.zeros_like(span)
    bought = x > 0
    t_x[bought] = span[bought] * rng.beta(x[bought], arrivals[bought] - x[bought] + 1)
    if steps > 0:  # k / steps exactly, as a summary of dated transactions gives it
        t_x = np.minimum(np.round(t_x * steps) / steps, ages)
    return FrequencyData(x.astype(np.float64), t_x, ages)
