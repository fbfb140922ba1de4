"""Advisor tasks created by journeys (call a complaining customer, follow up a silent one): the list an
advisor works, and completing a task, which records `Task Completed` (property `task_key`) on the
customer's timeline — the event that moves the waiting run on to its `done` branch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import Conflict, NotFound
from siyu.events.system import SystemEvent, record

from .effects import event_key
from .engine import TASK_COMPLETED
from .tables import TASK_STATUSES, AdvisorTask


def list_tasks(
    session: Session,
    *,
    staff_id: int | None = None,
    customer_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AdvisorTask]:
    query = select(AdvisorTask).order_by(AdvisorTask.due_at, AdvisorTask.id)
    if staff_id is not None:
        query = query.where(AdvisorTask.staff_id == staff_id)
    if customer_id is not None:
        query = query.where(AdvisorTask.customer_id == customer_id)
    if status is not None:
        if status not in TASK_STATUSES:
            from siyu.core.errors import ValidationFailed

            raise ValidationFailed(f"status must be one of {', '.join(TASK_STATUSES)}", field="status")
        query = query.where(AdvisorTask.status == status)
    return list(session.scalars(query.limit(limit).offset(offset)))


def get(session: Session, task_id: int) -> AdvisorTask:
    task = session.get(AdvisorTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", field="task_id")
    return task


def complete(session: Session, task_id: int, *, actor: str, now: datetime) -> AdvisorTask:
    """Mark the task done and record `Task Completed` (once). A task completed after its deadline is
    still marked done; the journey has already taken its `not_done_in_time` branch."""
    task = get(session, task_id)
    if task.status == "done":
        return task
    if task.status == "cancelled":
        raise Conflict(f"task {task_id} was cancelled", field="status")
    task.status, task.completed_at, task.completed_by = "done", now, actor[:100]
    journey = None if task.journey_id is None else str(task.journey_id)
    run = None if task.run_id is None else str(task.run_id)
    props = {"task_key": task.key, "task_id": task.id, "journey_id": journey, "run_id": run,
             "node_id": task.node_id, "completed_by": actor[:100]}  # fmt: skip
    done = SystemEvent(task.customer_id, TASK_COMPLETED, event_key(f"task:{task.key}:done"), now, props)
    record(session, [done], received_at=now)
    session.flush()
    return task
