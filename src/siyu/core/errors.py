"""Domain error hierarchy; the web edge maps each class to one HTTP status, once."""

from __future__ import annotations


class SiyuError(Exception):
    """Base of every error siyu raises on purpose."""

    status_code = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:  # pickled with its field (the ingestion writer's answers)
        return (_rebuild, (type(self), self.message, self.field))


def _rebuild(cls: type[SiyuError], message: str, field: str | None) -> SiyuError:
    return cls(message, field=field)


class ValidationFailed(SiyuError):
    status_code = 400


class PayloadTooLarge(SiyuError):
    status_code = 400


class Unauthorized(SiyuError):
    status_code = 401


class Forbidden(SiyuError):
    status_code = 403


class NotFound(SiyuError):
    status_code = 404


class Conflict(SiyuError):
    status_code = 409
