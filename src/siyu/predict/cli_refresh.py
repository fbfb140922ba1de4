"""`siyu predict refresh`: refit the prediction models on the database and rewrite every customer's
predictions, predictive tags and replenish trait (what the nightly job does), printing the run."""

from __future__ import annotations

import sys

import orjson
import typer
from rich.console import Console

from siyu.predict.cli import predict_app


@predict_app.command("refresh")
def refresh(as_json: bool = typer.Option(False, "--json", help="Print the run as JSON on stdout")) -> None:
    """Refresh predictions for every customer now (P(alive), CLV, next purchase, churn, send hour)."""
    from siyu.core.clock import now
    from siyu.core.database import unit_of_work, write_lock
    from siyu.predict import service
    from siyu.predict.schemas import PredictionRunPublic

    console = Console(stderr=True)
    with console.status("refreshing predictions"), unit_of_work() as session, write_lock(session):
        done = service.refresh_all(session, now())
        service.requeue(session, done, now())
        session.commit()
        public = PredictionRunPublic.model_validate(done.run)
    if as_json:
        sys.stdout.write(orjson.dumps(public.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    churn = public.metrics.get("churn") or {}
    tags = public.metrics.get("tags") or {}
    out = Console()
    out.print(f"prediction run {public.id}: {public.customers:,} customers in {public.seconds} s")
    out.print(f"churn model: {churn.get('method')} (held-out AUC {churn.get('auc', '—')})")
    for name, count in tags.items():
        out.print(f"{name}: {count['members']:,} customers (+{count['added']}, -{count['removed']})")
