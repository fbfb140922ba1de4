"""FastAPI dependencies shared by every router: a unit-of-work session and the caller's principal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from siyu.auth.service import ROLES, token_for
from siyu.core.database import unit_of_work
from siyu.core.errors import Forbidden, Unauthorized


def get_session() -> Iterator[Session]:
    """One unit of work per request: committed when the route returns, rolled back when it raises."""
    with unit_of_work() as session:
        yield session


# scope="function": the commit runs when the route returns, before the response is sent, so a client
# that reads right after a 2xx sees its write (the default scope would commit after sending).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    @property
    def sees_pii(self) -> bool:
        return "pii" in self.permissions

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"role {self.role!r} lacks the {permission!r} permission")


def get_principal(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'", field="authorization")
    row = token_for(session, token.strip())
    if row is None:
        raise Unauthorized("unknown or revoked API token", field="authorization")
    return Principal(row.name, row.role)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
