"""Pareto/NBD purchase model: Schmittlein, Morrison & Colombo (1987), "Counting Your Customers: Who Are
They and What Will They Do Next?", Management Science 33(1), 1-24; likelihood as derived in Fader &
Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions".

While active a customer buys at Poisson rate λ ~ Gamma(r, α); their lifetime is exponential with rate
μ ~ Gamma(s, β). The note's likelihood of (x, t_x, T):
  L = Γ(r+x) α^r β^s / Γ(r) · [ 1 / ((α+T)^(r+x) (β+T)^s) + s/(r+s+x) · A0 ],
  A0 = F(t_x) - F(T),  F(t) = 2F1(r+s+x, s+1; r+s+x+1; (α-β)/(α+t)) / (α+t)^(r+s+x)  when α ≥ β,
                       F(t) = 2F1(r+s+x, r+x; r+s+x+1; (β-α)/(β+t)) / (β+t)^(r+s+x)  when α < β
(the two forms are equal by Pfaff's transformation; each keeps the series argument in [0, 1)). Here
ln A0 = ln F(t_x) + ln(1 - F(T)/F(t_x)) and the bracket is a logaddexp, so nothing under- or overflows.
P(alive) = 1 / (1 + s/(r+s+x) · (α+T)^(r+x) (β+T)^s · A0); E[Y(t) | x, t_x, T] =
(r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive) (the note, section 5; the limit
(r+x)(β+T)/(α+T) · ln((β+T+t)/(β+T)) at s = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special  # type: ignore[import-untyped]

from siyu.core.errors import ValidationFailed
from siyu.predict.data import FrequencyData, Index, Prediction, Vector, group_codes
from siyu.predict.fitting import maximise, standard_errors
from siyu.predict.parameters import check_positive

NAMES = ("r", "alpha", "s", "beta")


@dataclass(frozen=True)
class ParetoNBD:
    """A Pareto/NBD model with known parameters (time in the unit the data was summarised in)."""

    r: float
    alpha: float
    s: float
    beta: float

    def __post_init__(self) -> None:
        check_positive({"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta})

    @property
    def theta(self) -> Vector:
        return np.log([self.r, self.alpha, self.s, self.beta])

    def log_likelihood(self, data: FrequencyData) -> float:
        return _Likelihood(data)(self.theta)

    def customer_log_likelihood(self, data: FrequencyData) -> Vector:
        """ln L of each row."""
        head = special.gammaln(self.r + data.x) - special.gammaln(self.r) + self.r * np.log(self.alpha)
        alive, dead = _Branches(data)(self.theta)
        return np.asarray(head + self.s * np.log(self.beta) + np.logaddexp(alive, dead))

    def p_alive(self, data: FrequencyData) -> Vector:
        alive, dead = _Branches(data)(self.theta)
        return np.asarray(special.expit(alive - dead))

    def expected_purchases(self, t: float) -> float:
        """E[X(t)] for a customer t time units after their first purchase: rβ/(α(s-1)) [1-(β/(β+t))^(s-1)]."""
        _check_horizon(t)
        return float(self.r / self.alpha * self.beta * _growth(self.s, np.log(self.beta / (self.beta + t))))

    def conditional_expected_purchases(self, t: float, data: FrequencyData) -> Vector:
        """E[Y(t) | x, t_x, T]: purchases in the next t time units after T."""
        return self.predict(t, data).expected_purchases

    def predict(self, t: float, data: FrequencyData) -> Prediction:
        """P(alive) and E[Y(t) | x, t_x, T] together (P(alive) computed once)."""
        _check_horizon(t)
        T = data.T
        alive = self.p_alive(data)
        growth = _growth(self.s, np.log((self.beta + T) / (self.beta + T + t)))
        rate = (self.r + data.x) / (self.alpha + T) * (self.beta + T)
        return Prediction(alive, np.asarray(rate * growth * alive))


def _growth(s: float, log_ratio: Vector | float) -> Vector:
    """[1 - ratio^(s-1)] / (s-1), and its limit -ln(ratio) at s = 1."""
    ratio = np.asarray(log_ratio, dtype=np.float64)
    if abs(s - 1) < 1e-9:
        return -ratio
    return np.asarray(-np.expm1((s - 1) * ratio) / (s - 1))


def _check_horizon(t: float) -> None:
    if t < 0:
        raise ValidationFailed("the horizon t must not be negative", field="t")


@dataclass(frozen=True)
class ParetoNBDFit:
    model: ParetoNBD
    log_likelihood: float
    customers: float
    iterations: int
    converged: bool
    message: str


def fit(data: FrequencyData, start: ParetoNBD | None = None, *, group: bool = True) -> ParetoNBDFit:
    """Maximum-likelihood fit (numerical gradient); `group` merges identical (x, t_x, T) rows first."""
    if not np.any(data.x > 0):
        raise ValidationFailed(
            "no customer made a repeat purchase: the model cannot be fitted", field="frequency"
        )
    work = data.grouped() if group else data
    theta0 = start.theta if start else _start(work)
    found = maximise(NAMES, _Likelihood(work), theta0, work.customers, gradient=False)
    return ParetoNBDFit(
        ParetoNBD(**found.params),
        found.log_likelihood,
        work.customers,
        found.iterations,
        found.converged,
        found.message,
    )


def parameter_errors(model: ParetoNBD, data: FrequencyData) -> dict[str, float]:
    """Standard errors of the parameters of a model fitted to `data` (observed information)."""
    params = {"r": model.r, "alpha": model.alpha, "s": model.s, "beta": model.beta}
    return standard_errors(_Likelihood(data.grouped()), params)


def _start(data: FrequencyData) -> Vector:
    rate = float(np.sum(data.weight * data.x) / max(float(np.sum(data.weight * data.T)), 1e-12))
    mean_t = float(np.average(data.T, weights=data.weight)) or 1.0
    return np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, mean_t])


class _Branches:
    """ln of the bracket's two terms per row: (alive at T, dropped out between t_x and T).

    2F1 is evaluated once per distinct (x, t) pair, t being either t_x or T.
    """

    def __init__(self, data: FrequencyData) -> None:
        self.x, self.T = data.x, data.T
        n = data.x.shape[0]
        both_x, both_t = np.concatenate([data.x, data.x]), np.concatenate([data.t_x, data.T])
        first, inverse, _ = group_codes(both_x, both_t)
        self.px, self.pt = both_x[first], both_t[first]
        self.at_tx: Index = inverse[:n]
        self.at_T: Index = inverse[n:]
        self.closed = data.t_x >= data.T  # last purchase at T: the dropped-out term vanishes

    def __call__(self, theta: Vector) -> tuple[Vector, Vector]:
        r, alpha, s, beta = np.exp(theta)
        x, T = self.x, self.T
        big = r + s + self.px
        with np.errstate(divide="ignore", invalid="ignore"):
            if alpha >= beta:
                z = (alpha - beta) / (alpha + self.pt)
                ln_f = np.log(special.hyp2f1(big, s + 1, big + 1, z)) - big * np.log(alpha + self.pt)
            else:
                z = (beta - alpha) / (beta + self.pt)
                ln_f = np.log(special.hyp2f1(big, r + self.px, big + 1, z)) - big * np.log(beta + self.pt)
            at_tx, at_T = ln_f[self.at_tx], ln_f[self.at_T]
            gap = np.minimum(at_T - at_tx, 0.0)
            ln_a0 = np.where(self.closed, -np.inf, at_tx + np.log(-np.expm1(gap)))
            dead = np.log(s) - np.log(r + s + x) + ln_a0
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        return alive, dead


class _Likelihood:
    """The likelihood summed over the data (weighted), as a function of log-parameters."""

    def __init__(self, data: FrequencyData) -> None:
        self.branches, self.w = _Branches(data), data.weight
        self.xu, ix = np.unique(data.x, return_inverse=True)
        self.wx = np.bincount(ix, weights=data.weight, minlength=self.xu.shape[0])

    def __call__(self, theta: Vector) -> float:
        r, alpha, s, beta = np.exp(theta)
        head = special.gammaln(r + self.xu) - special.gammaln(r) + r * np.log(alpha)
        alive, dead = self.branches(theta)
        return float(self.wx @ head + self.w.sum() * s * np.log(beta) + self.w @ np.logaddexp(alive, dead))
