"""WeCom customer-contact callbacks (客户联系变更回调) as customer events: a staff member adding a customer
(`add_external_contact`, `add_half_external_contact`) becomes `Contact Added`, a deletion on either side
(`del_external_contact`, `del_follow_user`) `Contact Deleted`, ingested through the normal pipeline under the
source `wecom:callback` with the identity `wecom_external_userid`.

WeCom retries a callback it got no answer to: each event's messageId is derived from the callback itself
(corp, CreateTime, ExternalUserID, ChangeType, UserID), so a retry is stored once. A customer added by a
staff member gets that staff member as owner if they have none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.auth.service import create_source
from siyu.auth.tables import Source
from siyu.core.database import insert_for, session_factory, write_lock
from siyu.core.errors import ValidationFailed
from siyu.core.settings import get_settings
from siyu.customers.tables import Identity
from siyu.events.service import ingest_request
from siyu.staff.tables import CustomerOwner, Staff

from .callback_crypto import CallbackRejected

SOURCE_NAME = "wecom:callback"
IDENTITY = "wecom_external_userid"
CONTACT_ADDED, CONTACT_DELETED = "Contact Added", "Contact Deleted"
ADDED = frozenset({"add_external_contact", "add_half_external_contact"})
DELETED_BY = {"del_external_contact": "staff", "del_follow_user": "customer"}  # who removed whom
MAX_ID = 255

_source_ids: dict[str, int] = {}


@dataclass(frozen=True)
class ContactChange:
    """One `change_external_contact` callback siyu acts on."""

    change_type: str
    corp_id: str
    userid: str
    external_userid: str
    create_time: int
    state: str | None = None
    welcome_code: str | None = None
    source: str | None = None  # del_external_contact: e.g. DELETE_BY_TRANSFER

    @property
    def added(self) -> bool:
        return self.change_type in ADDED

    @property
    def event(self) -> str:
        return CONTACT_ADDED if self.added else CONTACT_DELETED

    @property
    def message_id(self) -> str:
        parts = (self.corp_id, str(self.create_time), self.external_userid, self.change_type, self.userid)
        return "wecom-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {"userid": self.userid, "change_type": self.change_type}
        if self.added:
            props["state"] = self.state or ""
            if self.welcome_code:
                props["welcome_code"] = self.welcome_code
        else:
            props["deleted_by"] = DELETED_BY[self.change_type]
            if self.source:
                props["source"] = self.source
        return props

    def message(self) -> dict[str, Any]:
        """The tracking message (Segment spec) the pipeline ingests."""
        return {
            "type": "track",
            "messageId": self.message_id,
            "anonymousId": self.external_userid,
            "event": self.event,
            "timestamp": datetime.fromtimestamp(self.create_time, UTC).isoformat(),
            "properties": self.properties(),
            "context": {
                "externalIds": [{"type": IDENTITY, "id": self.external_userid}],
                "library": {"name": "siyu-wecom-callback"},
            },
        }


def _text(fields: Mapping[str, str], name: str, *, required: bool) -> str | None:
    value = (fields.get(name) or "").strip()
    if not value:
        if required:
            raise CallbackRejected(f"{name} is missing", field=name)
        return None
    if len(value) > MAX_ID or "\x00" in value:
        raise CallbackRejected(f"{name} is not a valid value", field=name)
    return value


def parse_change(fields: Mapping[str, str]) -> ContactChange | None:
    """The contact change in a decrypted callback; None for any other event (answered, not acted on)."""
    if fields.get("MsgType") != "event" or fields.get("Event") != "change_external_contact":
        return None
    change_type = fields.get("ChangeType") or ""
    if change_type not in ADDED and change_type not in DELETED_BY:
        return None  # edit_external_contact, transfer_fail, …: nothing to record
    created = (fields.get("CreateTime") or "").strip()
    if not created.isdecimal() or len(created) > 12:
        raise CallbackRejected("CreateTime must be a Unix time in seconds", field="CreateTime")
    return ContactChange(
        change_type=change_type,
        corp_id=_text(fields, "ToUserName", required=True) or "",
        userid=_text(fields, "UserID", required=True) or "",
        external_userid=_text(fields, "ExternalUserID", required=True) or "",
        create_time=int(created),
        state=_text(fields, "State", required=False),
        welcome_code=_text(fields, "WelcomeCode", required=False),
        source=_text(fields, "Source", required=False),
    )


def handle(fields: Mapping[str, str], now: datetime) -> ContactChange | None:
    """Record a decrypted callback: ingest its event, then give an added customer an owner."""
    change = parse_change(fields)
    if change is None:
        return None
    report = ingest_request(callback_source_id(), [change.message()], None, None)
    if report.errors:
        error = report.errors[0]
        raise ValidationFailed(error.message, field=error.field or "body")
    if change.added:
        with session_factory()() as session, write_lock(session):
            assign_owner(session, change.external_userid, change.userid, now)
            session.commit()
    return change


def assign_owner(session: Session, external_userid: str, userid: str, now: datetime) -> bool:
    """Make the staff member `userid` (created if siyu does not know them yet) the owner of the customer
    with this external id, unless the customer has an owner. True if it was set."""
    customer_id = session.scalar(
        select(Identity.customer_id).where(Identity.type == IDENTITY, Identity.lookup == external_userid)
    )
    if customer_id is None:
        return False
    kind = session.get_bind().dialect.name
    staff = insert_for(kind, Staff.__table__).values(userid=userid, name=userid, active=True, created_at=now)
    session.execute(staff.on_conflict_do_nothing(index_elements=["userid"]))
    staff_id = session.scalar(select(Staff.id).where(Staff.userid == userid))
    owner = insert_for(kind, CustomerOwner.__table__).values(
        customer_id=customer_id, staff_id=staff_id, assigned_at=now
    )
    result = session.execute(owner.on_conflict_do_nothing(index_elements=["customer_id"]))
    return bool(getattr(result, "rowcount", 0))


def callback_source_id() -> int:
    """The id of the source `wecom:callback`, created (with a write key nobody sees) on first use."""
    url = get_settings().database_url
    cached = _source_ids.get(url)
    if cached is not None:
        return cached
    for attempt in range(3):
        with session_factory()() as session, write_lock(session):
            try:
                source_id = session.scalar(select(Source.id).where(Source.name == SOURCE_NAME))
                if source_id is None:
                    source_id = create_source(session, SOURCE_NAME)[0].id
                session.commit()
            except IntegrityError:  # created by a concurrent callback meanwhile
                session.rollback()
                if attempt == 2:
                    raise
                continue
        _source_ids[url] = source_id
        return source_id
    raise AssertionError("unreachable")
