"""Lifecycle API: `GET /api/v1/lifecycle` (customers per stage, rules, last sweep)."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.lifecycle import service
from siyu.lifecycle.schemas import LifecyclePublic
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["lifecycle"])


@router.get("/lifecycle", response_model=LifecyclePublic, summary="Customers per lifecycle stage")
def get_lifecycle(session: SessionDep, principal: PrincipalDep) -> LifecyclePublic:
    principal.require("read")
    return LifecyclePublic.model_validate(service.summary(session))
