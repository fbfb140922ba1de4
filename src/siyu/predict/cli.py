"""`siyu predict fit`: a transaction file in, BG/NBD, Pareto/NBD and Gamma-Gamma fits and the holdout
check out (JSON on stdout with --json, else a table). Exit code 2 on unusable input.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from siyu.core.errors import ValidationFailed

if TYPE_CHECKING:
    from siyu.predict.report import FitReport

predict_app = typer.Typer(
    help="Customer-value predictions: BG/NBD, Pareto/NBD, Gamma-Gamma.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(predict_app, name="predict")
    from siyu.predict import cli_refresh  # noqa: F401  (registers `siyu predict refresh`)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{option}: {value!r} is not a date (use YYYY-MM-DD)", field=option) from exc


@predict_app.command("fit")
def fit(
    transactions: Path = typer.Option(..., "--transactions", help="CSV or Parquet, one row per purchase"),
    customer_col: str = typer.Option(..., "--customer-col", help="Column with the customer id"),
    date_col: str = typer.Option(..., "--date-col", help="Column with the purchase date (or date-time)"),
    amount_col: str | None = typer.Option(None, "--amount-col", help="Column with the amount (Gamma-Gamma)"),
    calibration_end: str = typer.Option(..., "--calibration-end", help="Last day fitted on, YYYY-MM-DD"),
    holdout_end: str | None = typer.Option(None, "--holdout-end", help="Last day of the holdout, YYYY-MM-DD"),
    time_unit: str = typer.Option(
        "weeks", "--time-unit", help="Unit of t_x, T and the fitted α, β: weeks|days"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the fits as JSON on stdout"),
) -> None:
    """Fit the purchase and spend models on a transaction file; compare with the holdout period."""
    from siyu.predict.report import as_dict, fit_all
    from siyu.predict.summary import rfm_summary
    from siyu.predict.transactions import read_transactions

    console = Console(stderr=True)
    try:
        if time_unit not in ("weeks", "days"):
            raise ValidationFailed(
                f"--time-unit must be weeks or days, not {time_unit!r}", field="--time-unit"
            )
        end = _day(calibration_end, "--calibration-end")
        holdout = None if holdout_end is None else _day(holdout_end, "--holdout-end")
        with console.status("reading transactions"):
            frame = read_transactions(transactions)
        with console.status("summarising customers"):
            summary = rfm_summary(
                frame,
                customer=customer_col,
                date=date_col,
                amount=amount_col,
                calibration_end=end,
                holdout_end=holdout,
                time_unit=time_unit,  # type: ignore[arg-type]
            )
        with console.status(f"fitting the models on {summary.frame.height:,} customers"):
            report = fit_all(summary, spend=amount_col is not None)
    except ValidationFailed as exc:
        where = f" (field: {exc.field})" if exc.field else ""
        console.print(f"[red]error[/red]: {escape(exc.message)}{escape(where)}")
        raise typer.Exit(code=2) from exc
    for note in report.notes:
        console.print(f"[yellow]note[/yellow]: {escape(note)}")
    if as_json:
        sys.stdout.write(orjson.dumps(as_dict(report), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print(report)


def _print(report: FitReport) -> None:
    console = Console()
    unit = report.summary.time_unit
    fits = Table(title=f"Fits on {report.summary.frame.height:,} customers (time in {unit})")
    for column in ("model", "parameters", "log-likelihood"):
        fits.add_column(column)
    bg, pn, gg = report.bgnbd, report.pareto_nbd, report.gamma_gamma
    fits.add_row(
        "BG/NBD",
        _params(r=bg.model.r, alpha=bg.model.alpha, a=bg.model.a, b=bg.model.b),
        f"{bg.log_likelihood:.1f}",
    )
    fits.add_row(
        "Pareto/NBD",
        _params(r=pn.model.r, alpha=pn.model.alpha, s=pn.model.s, beta=pn.model.beta),
        f"{pn.log_likelihood:.1f}",
    )
    if gg is not None:
        fits.add_row(
            "Gamma-Gamma",
            _params(p=gg.model.p, q=gg.model.q, gamma=gg.model.gamma),
            f"{gg.log_likelihood:.1f}",
        )
    console.print(fits)
    if report.holdout is None:
        return
    holdout = Table(title="Holdout: repeat purchases per customer by calibration frequency")
    for column in ("x", "customers", "actual", "BG/NBD", "Pareto/NBD"):
        holdout.add_column(column, justify="right")
    for row in report.holdout.classes:
        holdout.add_row(
            row.label,
            str(row.customers),
            f"{row.actual:.3f}",
            f"{row.predicted['bgnbd']:.3f}",
            f"{row.predicted['pareto_nbd']:.3f}",
        )
    totals = report.holdout
    holdout.add_row(
        "total",
        "",
        f"{totals.actual:,.0f}",
        f"{totals.predicted['bgnbd']:,.1f}",
        f"{totals.predicted['pareto_nbd']:,.1f}",
    )
    console.print(holdout)


def _params(**values: float) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in values.items())
