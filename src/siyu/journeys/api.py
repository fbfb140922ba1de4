"""Journeys API (`/api/v1/journeys…`): create, list, read (definition, versions, stats), edit (a new
version), activate / pause / archive, start by hand, playbooks to clone; advisor tasks (`/api/v1/tasks`).
Thin: parse, open the unit of work, call the service, map the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from siyu.core import clock
from siyu.core.database import write_lock
from siyu.core.errors import Forbidden
from siyu.web.deps import Principal, PrincipalDep, SessionDep

from . import service, tasks
from .payloads import (
    BulkPublic,
    JourneyCreate,
    JourneyDetail,
    JourneyPublic,
    JourneyUpdate,
    PlaybookClone,
    TaskPublic,
    TriggerRequest,
    VersionPublic,
)

router = APIRouter(prefix="/api/v1", tags=["journeys"])
JourneyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Journey id")]


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """Commit inside the SQLite write lock (the worker thread writes too); a no-op lock on PostgreSQL."""
    session.commit()  # end the read the auth check began, so the write starts from a fresh snapshot
    with write_lock(session):
        yield
        session.commit()


def _detail(session: Session, journey_id: int) -> JourneyDetail:
    journey = service.get(session, journey_id)
    definition = service.definition_of(session, journey).model_dump(mode="json", exclude_none=True)
    versions = [VersionPublic.model_validate(v) for v in service.versions(session, journey_id)]
    base = JourneyPublic.model_validate(journey).model_dump()
    return JourneyDetail(
        **base, definition=definition, versions=versions, stats=service.stats(session, journey_id)
    )


@router.get("/journeys/playbooks", summary="The seed playbooks, ready to clone (and the ids each needs)")
def list_playbooks(principal: PrincipalDep) -> list[dict[str, Any]]:
    principal.require("read")
    return service.playbooks()


@router.post(
    "/journeys/playbooks/{name}/clone",
    status_code=status.HTTP_201_CREATED,
    summary="A draft journey from a playbook",
)
def clone_playbook(
    name: Annotated[str, Path(max_length=64)],
    body: PlaybookClone,
    session: SessionDep,
    principal: PrincipalDep,
) -> JourneyDetail:
    principal.require("write")
    with writing(session):
        journey = service.clone_playbook(
            session, name, body.parameters, actor=principal.name, now=clock.now()
        )
        journey_id = journey.id
    return _detail(session, journey_id)


@router.post("/journeys", status_code=status.HTTP_201_CREATED, summary="Create a journey (draft, version 1)")
def create_journey(body: JourneyCreate, session: SessionDep, principal: PrincipalDep) -> JourneyDetail:
    principal.require("write")
    with writing(session):
        journey_id = service.create(session, body.definition, actor=principal.name, now=clock.now()).id
    return _detail(session, journey_id)


@router.get("/journeys", summary="Journeys (archived ones on request)")
def list_journeys(
    session: SessionDep, principal: PrincipalDep, include_archived: Annotated[bool, Query()] = False
) -> list[JourneyPublic]:
    principal.require("read")
    rows = service.list_journeys(session, include_archived=include_archived)
    return [JourneyPublic.model_validate(j) for j in rows]


@router.get("/journeys/{journey_id}", summary="Definition, versions and per-node / per-arm counts")
def get_journey(journey_id: JourneyId, session: SessionDep, principal: PrincipalDep) -> JourneyDetail:
    principal.require("read")
    return _detail(session, journey_id)


@router.get("/journeys/{journey_id}/versions/{version}", summary="One stored version's definition")
def get_version(
    journey_id: JourneyId, version: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:  # fmt: skip
    principal.require("read")
    journey = service.get(session, journey_id)
    try:
        definition = service.definition_of(session, journey, version)
    except LookupError as exc:
        from siyu.core.errors import NotFound

        raise NotFound(str(exc), field="version") from None
    return {
        "journey_id": journey_id,
        "version": version,
        "definition": definition.model_dump(mode="json", exclude_none=True),
    }


@router.put("/journeys/{journey_id}", summary="Save a new version (running customers stay on theirs)")
def update_journey(
    journey_id: JourneyId, body: JourneyUpdate, session: SessionDep, principal: PrincipalDep
) -> JourneyDetail:
    principal.require("write")
    with writing(session):
        service.update(session, journey_id, body.definition, actor=principal.name, now=clock.now())
    return _detail(session, journey_id)


def _transition(journey_id: int, action: str, session: Session, principal: Principal) -> JourneyPublic:
    principal.require("write")
    with writing(session):
        journey = service.transition(session, journey_id, action, now=clock.now())
        return JourneyPublic.model_validate(journey)


@router.post("/journeys/{journey_id}/activate", summary="Start accepting entries")
def activate(journey_id: JourneyId, session: SessionDep, principal: PrincipalDep) -> JourneyPublic:
    return _transition(journey_id, "activate", session, principal)


@router.post("/journeys/{journey_id}/pause", summary="Stop entries and hold running customers' timers")
def pause(journey_id: JourneyId, session: SessionDep, principal: PrincipalDep) -> JourneyPublic:
    return _transition(journey_id, "pause", session, principal)


@router.post("/journeys/{journey_id}/archive", summary="Archive (no new entries; running customers finish)")
def archive(journey_id: JourneyId, session: SessionDep, principal: PrincipalDep) -> JourneyPublic:
    return _transition(journey_id, "archive", session, principal)


@router.post("/journeys/{journey_id}/trigger", summary="Start the journey for customers or a segment")
def trigger(
    journey_id: JourneyId, body: TriggerRequest, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("write")
    with writing(session):
        return service.trigger(
            session, journey_id, now=clock.now(), actor=principal.name, customer_ids=body.customer_ids,
            segment_id=body.segment_id, key=body.key, properties=body.properties,
        )  # fmt: skip


@router.get("/journeys/{journey_id}/entries/{bulk_id}", summary="Progress of a queued start")
def bulk_entry(
    journey_id: JourneyId, bulk_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep,
    principal: PrincipalDep,
) -> BulkPublic:  # fmt: skip
    principal.require("read")
    return BulkPublic.model_validate(service.bulk_status(session, journey_id, bulk_id))


# --- advisor tasks -------------------------------------------------------------------------------------


@router.get("/tasks", summary="Advisor tasks, soonest due first")
def list_tasks(
    session: SessionDep,
    principal: PrincipalDep,
    staff_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[TaskPublic]:
    principal.require("read")
    rows = tasks.list_tasks(session, staff_id=staff_id, customer_id=customer_id, status=status_, limit=limit,
                            offset=offset)  # fmt: skip
    return [TaskPublic.model_validate(t) for t in rows]


@router.post("/tasks/{task_id}/complete", summary="Complete a task (records Task Completed with task_key)")
def complete_task(
    task_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, principal: PrincipalDep
) -> TaskPublic:
    if "write" not in principal.permissions and principal.role != "advisor":
        raise Forbidden(f"role {principal.role!r} cannot complete tasks")
    with writing(session):
        task = tasks.complete(session, task_id, actor=principal.name, now=clock.now())
        return TaskPublic.model_validate(task)
