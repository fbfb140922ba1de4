"""RFM API: `GET /api/v1/rfm` (last run and tier distribution), `POST /api/v1/rfm/recompute`."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.core.clock import now
from siyu.core.database import write_lock
from siyu.rfm import service
from siyu.rfm.schemas import RfmPublic
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["rfm"])


@router.get(
    "/rfm", response_model=RfmPublic, summary="Last RFM run: settings, cut points, customers per tier"
)
def get_rfm(session: SessionDep, principal: PrincipalDep) -> RfmPublic:
    principal.require("read")
    return RfmPublic.model_validate(service.summary(session))


@router.post("/rfm/recompute", response_model=RfmPublic, summary="Recompute RFM for every customer now")
def recompute(session: SessionDep, principal: PrincipalDep) -> RfmPublic:
    principal.require("write")
    with write_lock(session):  # SQLite: the in-process worker writes too; commit before letting it in
        service.recompute_all(session, now())
        session.commit()
    return RfmPublic.model_validate(service.summary(session))
