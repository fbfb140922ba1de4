"""Maximum-likelihood driver shared by the models: L-BFGS-B on log-parameters, mean log-likelihood.

A model hands in its log-likelihood (and gradient, when it has one) as a function of log-parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize  # type: ignore[import-untyped]

from siyu.core.errors import ValidationFailed
from siyu.predict.data import Vector

LOG_BOUND = 30.0  # parameters stay within e^-30 … e^30: far outside any real fit, inside float range
WithGradient = Callable[[Vector], tuple[float, Vector]]
ValueOnly = Callable[[Vector], float]


@dataclass(frozen=True)
class Optimum:
    """The maximum found: parameters, total log-likelihood and how the search ended."""

    params: dict[str, float]
    log_likelihood: float
    iterations: int
    evaluations: int
    converged: bool
    message: str


def maximise(
    names: tuple[str, ...],
    log_likelihood: WithGradient | ValueOnly,
    start: Vector,
    customers: float,
    *,
    gradient: bool,
) -> Optimum:
    """Maximise `log_likelihood(log_params)`; the search runs on the per-customer mean (scale-free)."""
    scale = 1.0 / customers

    def objective_with_gradient(theta: Vector) -> tuple[float, Vector]:
        with np.errstate(all="ignore"):  # a step into overflow is answered below, not warned about
            value, grad = log_likelihood(theta)  # type: ignore[misc]
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros_like(theta)
        return -value * scale, -np.asarray(grad) * scale

    def objective(theta: Vector) -> float:
        with np.errstate(all="ignore"):
            value = float(log_likelihood(theta))  # type: ignore[arg-type]
        return -value * scale if np.isfinite(value) else 1e300

    with single_threaded_blas():
        return _search(names, objective_with_gradient if gradient else objective, start, scale, gradient)


def _search(
    names: tuple[str, ...], objective: Callable[[Vector], Any], start: Vector, scale: float, gradient: bool
) -> Optimum:
    options = {"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    result = optimize.minimize(
        objective,
        start,
        jac=True if gradient else "3-point",
        method="L-BFGS-B",
        bounds=bounds,
        options=options,
    )
    if not np.isfinite(result.fun) or result.fun >= 1e299:
        raise ValidationFailed("the likelihood could not be evaluated on this data", field="frequency")
    values = np.exp(result.x)
    return Optimum(
        params={name: float(v) for name, v in zip(names, values, strict=True)},
        log_likelihood=float(-result.fun / scale),
        iterations=int(result.nit),
        evaluations=int(result.nfev),
        converged=bool(result.success),
        message=str(result.message),
    )


@cache
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread: these problems are tiny, and on a busy host extra BLAS threads only spin
    (measured: a CDNOW BG/NBD fit 3.5 ms on one thread, 10-300 ms with two on a loaded 2-core machine)."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def standard_errors(log_likelihood: Callable[[Vector], float], params: dict[str, float]) -> dict[str, float]:
    """Asymptotic standard errors at the maximum from the observed information: the central-difference
    Hessian of the log-likelihood in log-parameters, inverted, mapped back by the delta method."""
    theta = np.log(list(params.values()))
    k, step = theta.shape[0], 1e-4
    hessian = np.empty((k, k))
    with single_threaded_blas():
        _fill_hessian(hessian, log_likelihood, theta, step)
    try:
        covariance = np.linalg.inv(-hessian)
    except np.linalg.LinAlgError as exc:
        raise ValidationFailed("the information matrix is singular at this fit", field="params") from exc
    spread = np.sqrt(np.clip(np.diag(covariance), 0, None)) * np.exp(theta)
    return {name: float(v) for name, v in zip(params, spread, strict=True)}


def _fill_hessian(
    hessian: Vector, log_likelihood: Callable[[Vector], float], theta: Vector, step: float
) -> None:
    k = theta.shape[0]
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * step, np.eye(k)[j] * step
            value = (
                log_likelihood(theta + e_i + e_j)
                - log_likelihood(theta + e_i - e_j)
                - log_likelihood(theta - e_i + e_j)
                + log_likelihood(theta - e_i - e_j)
            ) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
