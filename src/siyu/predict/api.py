"""Predictions API: `GET /api/v1/predictions/runs/latest` (the last refresh's models and metrics) and
`POST /api/v1/predictions/refresh` (refresh every customer now; write permission)."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.core.clock import now
from siyu.core.database import write_lock
from siyu.core.errors import NotFound
from siyu.predict import service
from siyu.predict.schemas import PredictionRunPublic
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1/predictions", tags=["predictions"])


@router.get(
    "/runs/latest", response_model=PredictionRunPublic, summary="The last prediction refresh and its metrics"
)
def latest(session: SessionDep, principal: PrincipalDep) -> PredictionRunPublic:
    principal.require("read")
    run = service.latest_run(session)
    if run is None:
        raise NotFound("no prediction refresh has run yet", field="run")
    return PredictionRunPublic.model_validate(run)


@router.post(
    "/refresh", response_model=PredictionRunPublic, summary="Refit the models and rewrite every prediction"
)
def refresh(session: SessionDep, principal: PrincipalDep) -> PredictionRunPublic:
    principal.require("write")
    with write_lock(session):
        done = service.refresh_all(session, now())
        service.requeue(session, done, now())
        session.commit()
    return PredictionRunPublic.model_validate(done.run)
