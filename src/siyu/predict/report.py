"""Fit all three models on one customer summary and compare with the holdout: what `siyu predict fit`
prints. `as_dict` is the command's public JSON contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from siyu.predict import bgnbd, gamma_gamma, pareto_nbd
from siyu.predict.holdout import HoldoutComparison, compare
from siyu.predict.summary import CustomerSummary

MIN_SPEND_CUSTOMERS = 3  # Gamma-Gamma has three parameters


@dataclass(frozen=True)
class FitReport:
    summary: CustomerSummary
    bgnbd: bgnbd.BGNBDFit
    pareto_nbd: pareto_nbd.ParetoNBDFit
    gamma_gamma: gamma_gamma.GammaGammaFit | None
    holdout: HoldoutComparison | None
    notes: list[str]  # what the reader should know: a fit that did not converge, a model left out


def fit_all(summary: CustomerSummary, *, spend: bool = True) -> FitReport:
    """BG/NBD and Pareto/NBD on every customer; Gamma-Gamma on repeat customers when `spend`."""
    data = summary.frequency_data()
    purchases = bgnbd.fit(data)
    pareto = pareto_nbd.fit(data)
    notes = [
        f"{name} stopped before converging: {fitted.message}"
        for name, fitted in (("BG/NBD", purchases), ("Pareto/NBD", pareto))
        if not fitted.converged
    ]
    spend_fit = None
    if spend:
        repeat = summary.frame.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0)).height
        if repeat >= MIN_SPEND_CUSTOMERS:
            spend_fit = gamma_gamma.fit(summary.spend_data())
            if not spend_fit.converged:
                notes.append(f"Gamma-Gamma stopped before converging: {spend_fit.message}")
        else:
            notes.append(f"Gamma-Gamma left out: {repeat} customers with repeat purchases and spend")
    holdout = None
    if summary.holdout_length is not None:
        t = summary.holdout_length
        predicted = {
            "bgnbd": purchases.model.conditional_expected_purchases(t, data),
            "pareto_nbd": pareto.model.conditional_expected_purchases(t, data),
        }
        holdout = compare(data.x, summary.holdout_actual(), predicted)
    return FitReport(summary, purchases, pareto, spend_fit, holdout, notes)


def as_dict(report: FitReport) -> dict[str, Any]:
    """{"bgnbd": {r, alpha, a, b, log_likelihood}, "pareto_nbd": {…}, "gamma_gamma": {p, q, gamma},
    "holdout": {actual, bgnbd, pareto_nbd}}; gamma_gamma and holdout are null when not asked for."""
    bg, pn = report.bgnbd, report.pareto_nbd
    spend = report.gamma_gamma
    return {
        "bgnbd": {
            "r": bg.model.r,
            "alpha": bg.model.alpha,
            "a": bg.model.a,
            "b": bg.model.b,
            "log_likelihood": bg.log_likelihood,
        },
        "pareto_nbd": {
            "r": pn.model.r,
            "alpha": pn.model.alpha,
            "s": pn.model.s,
            "beta": pn.model.beta,
            "log_likelihood": pn.log_likelihood,
        },
        "gamma_gamma": None
        if spend is None
        else {"p": spend.model.p, "q": spend.model.q, "gamma": spend.model.gamma},
        "holdout": None
        if report.holdout is None
        else {
            "actual": report.holdout.actual,
            "bgnbd": report.holdout.predicted["bgnbd"],
            "pareto_nbd": report.holdout.predicted["pareto_nbd"],
        },
    }
