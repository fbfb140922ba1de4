"""Gamma-Gamma spend model: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis", Journal of Marketing Research 42(4), 415-430; likelihood as written in Fader &
Hardie (2013), "The Gamma-Gamma Model of Monetary Value".

Each transaction's value is Gamma(p, ν) with the customer's ν ~ Gamma(q, γ), independent of the purchase
process. For a customer with x transactions of mean value m_x:
  f(m_x | p, q, γ, x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q m_x^(px-1) x^(px) / (γ + x m_x)^(px+q),
and E[M | p, q, γ, m_x, x] = p (γ + x m_x) / (px + q - 1), a weighted mean of the population mean
pγ/(q-1) and the customer's own m_x with weight px/(px+q-1) (FHL 2005, eq. 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special  # type: ignore[import-untyped]

from siyu.core.errors import ValidationFailed
from siyu.predict.data import SpendData, Vector, as_vector
from siyu.predict.fitting import maximise, standard_errors
from siyu.predict.parameters import check_positive

NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGamma:
    """A Gamma-Gamma spend model with known parameters (money in the data's currency)."""

    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        check_positive({"p": self.p, "q": self.q, "gamma": self.gamma})

    def log_likelihood(self, data: SpendData) -> float:
        value, _ = _Likelihood(data)(np.log([self.p, self.q, self.gamma]))
        return value

    def mean_spend(self) -> float:
        """E[M] = pγ/(q-1) for a customer we know nothing about (finite only when q > 1)."""
        if self.q <= 1:
            raise ValidationFailed("the mean spend is infinite when q ≤ 1", field="q")
        return self.p * self.gamma / (self.q - 1)

    def conditional_expected_spend(self, x: npt.ArrayLike, m_x: npt.ArrayLike) -> Vector:
        """E[M | x, m_x] per customer; x = 0 gives the population mean."""
        xs, ms = as_vector(x, "frequency"), as_vector(m_x, "monetary_value")
        if xs.shape != ms.shape:
            raise ValidationFailed("frequency and monetary_value differ in length", field="monetary_value")
        if np.any(xs < 0) or np.any(ms < 0):
            raise ValidationFailed("frequency and monetary_value must not be negative", field="frequency")
        denominator = self.p * xs + self.q - 1
        if np.any(denominator <= 0):
            raise ValidationFailed("the expected spend is infinite when px + q ≤ 1", field="q")
        return np.asarray(self.p * (self.gamma + xs * ms) / denominator)


@dataclass(frozen=True)
class GammaGammaFit:
    model: GammaGamma
    log_likelihood: float
    customers: float
    iterations: int
    converged: bool
    message: str


def fit(data: SpendData, start: GammaGamma | None = None) -> GammaGammaFit:
    """Maximum-likelihood fit with the analytic gradient."""
    theta0 = np.log([start.p, start.q, start.gamma]) if start else np.log([1.0, 1.0, _mean(data)])
    found = maximise(NAMES, _Likelihood(data), theta0, float(data.weight.sum()), gradient=True)
    return GammaGammaFit(
        GammaGamma(**found.params),
        found.log_likelihood,
        float(data.weight.sum()),
        found.iterations,
        found.converged,
        found.message,
    )


def parameter_errors(model: GammaGamma, data: SpendData) -> dict[str, float]:
    """Standard errors of the parameters of a model fitted to `data` (observed information)."""
    likelihood = _Likelihood(data)
    return standard_errors(
        lambda theta: likelihood(theta)[0], {"p": model.p, "q": model.q, "gamma": model.gamma}
    )


def _mean(data: SpendData) -> float:
    return float(np.average(data.m_x, weights=data.weight))


class _Likelihood:
    """The log density summed over customers, with its gradient in log-parameters.

    Terms in x alone (the Gamma functions) are evaluated once per distinct x; per customer only
    ln(γ + x m_x) and 1/(γ + x m_x) remain.
    """

    def __init__(self, data: SpendData) -> None:
        w, x = data.weight, data.x
        self.w, self.wx_all, self.xm = w, w * x, x * data.m_x
        self.xu, inverse = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inverse, weights=w, minlength=self.xu.shape[0])
        self.total = float(w.sum())
        ln_m = np.log(data.m_x)
        self.sum_x_ln_m, self.sum_ln_m = float(self.wx_all @ ln_m), float(w @ ln_m)

    def __call__(self, theta: Vector) -> tuple[float, Vector]:
        p, q, gamma = np.exp(theta)
        xu, wx, total = self.xu, self.wx, self.total
        pxu = p * xu
        ln_total = np.log(gamma + self.xm)
        sum_x_ln_total, sum_ln_total = float(self.wx_all @ ln_total), float(self.w @ ln_total)
        value = (
            wx @ (special.gammaln(pxu + q) - special.gammaln(pxu) + pxu * np.log(xu))
            + total * (q * np.log(gamma) - special.gammaln(q))
            + p * self.sum_x_ln_m - self.sum_ln_m
            - p * sum_x_ln_total - q * sum_ln_total
        )  # fmt: skip
        psi_sum = special.digamma(pxu + q)
        d_p = wx @ (xu * (psi_sum - special.digamma(pxu) + np.log(xu))) + self.sum_x_ln_m - sum_x_ln_total
        d_q = wx @ psi_sum - total * special.digamma(q) + total * np.log(gamma) - sum_ln_total
        inverse_total = 1 / (gamma + self.xm)
        d_gamma = total * q / gamma - p * (self.wx_all @ inverse_total) - q * (self.w @ inverse_total)
        return float(value), np.array([d_p * p, d_q * q, d_gamma * gamma])
