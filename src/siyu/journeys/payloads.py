"""Request and response bodies of the journeys API (`/api/v1/journeys…`, `/api/v1/tasks…`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_ID = 2**63 - 1


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JourneyCreate(_Body):
    definition: dict[str, Any] = Field(description="The journey definition (see docs/journeys.md)")


class JourneyUpdate(_Body):
    definition: dict[str, Any] = Field(description="Saved as the next version; running customers keep theirs")


class JourneyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    status: str = Field(description="draft | active | paused | archived")
    current_version: int
    playbook: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    activated_at: datetime | None


class VersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    created_at: datetime
    created_by: str


class JourneyDetail(JourneyPublic):
    definition: dict[str, Any]
    versions: list[VersionPublic]
    stats: dict[str, Any] = Field(
        description="runs and messages by status, converted runs, and per version → node → arm → metric "
        "counts (entered, sent, deferred, dropped, failed, converted, exited); `arms` sums per arm"
    )


class TriggerRequest(_Body):
    customer_ids: list[int] | None = Field(None, max_length=1_000_000, description="Customers to start")
    segment_id: int | None = Field(None, ge=1, description="Or every member of this segment (queued)")
    key: str | None = Field(
        None, min_length=1, max_length=200, description="Idempotency key: the same key starts a customer once"
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Available to templates as trigger.*"
    )

    @model_validator(mode="after")
    def _one_target(self) -> TriggerRequest:
        if (self.customer_ids is None) == (self.segment_id is None):
            raise ValueError("give either customer_ids or segment_id")
        if self.customer_ids is not None and any(not 1 <= c <= MAX_ID for c in self.customer_ids):
            raise ValueError("customer ids are positive integers")
        return self


class PlaybookClone(_Body):
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The brand's ids the playbook needs (see GET …/playbooks)"
    )


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    customer_id: int
    staff_id: int | None
    journey_id: int | None
    run_id: int | None
    node_id: str | None
    title: str
    description: str
    due_at: datetime
    status: str = Field(description="open | done | overdue | cancelled")
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class BulkPublic(BaseModel):
    """A queued start, summed over its shards (customer id ranges that workers take in parallel)."""

    id: int
    journey_id: int
    segment_id: int | None
    start_key: str
    status: str = Field(description="pending | done")
    shards: int
    entered: int
    skipped: int
    created_at: datetime
    done_at: datetime | None
