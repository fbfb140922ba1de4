"""BG/NBD purchase model: Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.

While active, a customer buys at Poisson rate λ ~ Gamma(r, α); after each repeat purchase they drop out
with probability p ~ Beta(a, b). Equation numbers refer to the paper:
- eq. 6, the likelihood of (x, t_x, T):
  L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
      + δ(x>0) · B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x)),
  evaluated here in log space as A(x) + logaddexp(-(r+x) ln(α+T), ln a - ln(b+x-1) - (r+x) ln(α+t_x));
- eq. 9, E[X(t)] for a new customer; eq. 10, E[Y(t) | x, t_x, T] for the next t time units; P(alive)
  from Fader, Hardie & Lee's note "Computing P(alive) using the BG/NBD model" (2008):
  1 / (1 + δ(x>0) · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)).
The Gaussian hypergeometric functions of eq. 9 and 10 are evaluated after Euler's transformation,
(1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z) with c = a+b+x-1, so that heavy
buyers cannot overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special  # type: ignore[import-untyped]

from siyu.core.errors import ValidationFailed
from siyu.predict.data import FrequencyData, Index, Prediction, Vector, group_codes
from siyu.predict.fitting import maximise, standard_errors
from siyu.predict.parameters import check_positive

NAMES = ("r", "alpha", "a", "b")
GROUP_ABOVE = 20_000  # rows beyond which evaluating 2F1 once per distinct (x, T) pays for the grouping


@dataclass(frozen=True)
class BGNBD:
    """A BG/NBD model with known parameters (time in the unit the data was summarised in)."""

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        check_positive({"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b})

    def log_likelihood(self, data: FrequencyData) -> float:
        """The total log-likelihood of the data (eq. 6, summed with the data's weights)."""
        value, _ = _Likelihood(data)(np.log([self.r, self.alpha, self.a, self.b]), gradient=False)
        return value

    def customer_log_likelihood(self, data: FrequencyData) -> Vector:
        """ln L (eq. 6) of each row."""
        x = data.x
        head = (
            special.gammaln(self.r + x)
            - special.gammaln(self.r)
            + self.r * np.log(self.alpha)
            + special.betaln(self.a, self.b + x)
            - special.betaln(self.a, self.b)
        )
        return np.asarray(head + np.logaddexp(*self._branches(data)))

    def p_alive(self, data: FrequencyData) -> Vector:
        """P(still active | x, t_x, T)."""
        alive, dead = self._branches(data)
        return np.asarray(special.expit(alive - dead))

    def expected_purchases(self, t: float) -> float:
        """E[X(t)] (eq. 9): purchases a customer makes in their first t time units after the first."""
        one = np.zeros(1)
        return float(self._bracket(t, one, one)[0] * (self.a + self.b - 1) / (self.a - 1))

    def conditional_expected_purchases(self, t: float, data: FrequencyData) -> Vector:
        """E[Y(t) | x, t_x, T] (eq. 10): purchases in the next t time units after T."""
        return self.predict(t, data).expected_purchases

    def predict(self, t: float, data: FrequencyData) -> Prediction:
        """P(alive) and E[Y(t) | x, t_x, T] together (P(alive) computed once)."""
        x = data.x
        scale = (self.a + self.b + x - 1) / (self.a - 1)
        alive = self.p_alive(data)
        return Prediction(alive, np.asarray(scale * self._bracket(t, x, data.T) * alive))

    def _branches(self, data: FrequencyData) -> tuple[Vector, Vector]:
        """ln of eq. 6's two terms without their common factor: (still active, dropped out at t_x)."""
        x = data.x
        rx = self.r + x
        alive = -rx * np.log(self.alpha + data.T)
        dead = np.full_like(x, -np.inf)
        rep = x > 0
        dead[rep] = (
            np.log(self.a) - np.log(self.b + x[rep] - 1) - rx[rep] * np.log(self.alpha + data.t_x[rep])
        )
        return alive, dead

    def _bracket(self, t: float, x: Vector, T: Vector) -> Vector:
        """1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t)), in Euler's transformed form."""
        if t < 0:
            raise ValidationFailed("the horizon t must not be negative", field="t")
        if x.shape[0] > GROUP_ABOVE:  # 2F1 is the costly part and depends on (x, T) only
            first, inverse, _ = group_codes(x, T)
            return self._bracket(t, x[first], T[first])[inverse]
        a, b = self.a, self.b
        z = t / (self.alpha + T + t)
        tail = special.hyp2f1(a + b - 1 - self.r, a - 1, a + b + x - 1, z)
        return np.asarray(1.0 - np.exp((a - 1) * np.log1p(-z)) * tail)


@dataclass(frozen=True)
class BGNBDFit:
    """The maximum-likelihood model and how the search went."""

    model: BGNBD
    log_likelihood: float
    customers: float
    iterations: int
    converged: bool
    message: str


def fit(data: FrequencyData, start: BGNBD | None = None, *, group: bool = True) -> BGNBDFit:
    """Maximum-likelihood fit; `group` merges identical (x, t_x, T) rows first (same answer, faster)."""
    if not np.any(data.x > 0):
        raise ValidationFailed(
            "no customer made a repeat purchase: the model cannot be fitted", field="frequency"
        )
    work = data.grouped() if group else data
    theta0 = np.log([start.r, start.alpha, start.a, start.b]) if start else _start(work)
    likelihood = _Likelihood(work)
    found = maximise(NAMES, likelihood, theta0, work.customers, gradient=True)
    return BGNBDFit(
        BGNBD(**found.params),
        found.log_likelihood,
        work.customers,
        found.iterations,
        found.converged,
        found.message,
    )


def parameter_errors(model: BGNBD, data: FrequencyData) -> dict[str, float]:
    """Standard errors of the parameters of a model fitted to `data` (observed information)."""
    likelihood = _Likelihood(data.grouped())
    params = {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}
    return standard_errors(lambda theta: likelihood(theta, gradient=False)[0], params)


def _start(data: FrequencyData) -> Vector:
    """r = 1, α from the mean purchase rate, a = b = 1: a neutral start at the data's time scale."""
    rate = float(np.sum(data.weight * data.x) / max(float(np.sum(data.weight * data.T)), 1e-12))
    return np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])


class _Likelihood:
    """Eq. 6 summed over the data, with its gradient in log-parameters; x-only terms per distinct x."""

    def __init__(self, data: FrequencyData) -> None:
        self.x, self.t_x, self.T, self.w = data.x, data.t_x, data.T, data.weight
        self.xu, inverse = np.unique(data.x, return_inverse=True)
        self.ix: Index = inverse
        self.wx = np.bincount(inverse, weights=data.weight, minlength=self.xu.shape[0])
        self.rep = data.x > 0
        self.total = float(data.weight.sum())

    def __call__(self, theta: Vector, gradient: bool = True) -> tuple[float, Vector]:
        r, alpha, a, b = np.exp(theta)
        xu, wx, w = self.xu, self.wx, self.w
        head = (
            special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)
            + special.betaln(a, b + xu) - special.betaln(a, b)
        )  # fmt: skip
        ln_b1 = np.log(np.where(xu > 0, b + xu - 1, 1.0))  # ln(b+x-1), unused where x = 0
        ln_at, ln_aT = np.log(alpha + self.t_x), np.log(alpha + self.T)
        rx = r + self.x
        alive = -rx * ln_aT
        dead = np.where(self.rep, np.log(a) - ln_b1[self.ix] - rx * ln_at, -np.inf)
        both = np.logaddexp(alive, dead)
        value = float(wx @ head + w @ both)
        if not gradient:
            return value, np.zeros(4)
        pi = np.exp(dead - both)  # share of the dropped-out term, 0 for x = 0
        wpi = w * pi
        w_alive = w - wpi
        d_r = wx @ (special.digamma(r + xu) - special.digamma(r) + np.log(alpha))
        d_r -= w_alive @ ln_aT + wpi @ ln_at
        d_alpha = (
            self.total * r / alpha
            - (w_alive * rx) @ (1 / (alpha + self.T))
            - (wpi * rx) @ (1 / (alpha + self.t_x))
        )
        psi_abx = special.digamma(a + b + xu)
        d_a = wx @ (special.digamma(a + b) - psi_abx) + wpi.sum() / a
        inv_b1 = np.where(xu > 0, 1 / np.where(xu > 0, b + xu - 1, 1.0), 0.0)
        d_b = wx @ (special.digamma(b + xu) - psi_abx - special.digamma(b) + special.digamma(a + b))
        d_b -= wpi @ inv_b1[self.ix]
        grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return value, grad
