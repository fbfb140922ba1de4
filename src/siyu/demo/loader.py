"""Feeds the demo stream through the real ingestion path (`events.service.ingest_request`), one tracking
source per channel, in chronological batches of at most 100 messages. Re-running adds nothing: the
message ids are stable, so the pipeline drops them as duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.service import create_source
from siyu.auth.tables import Source
from siyu.core.clock import as_utc
from siyu.demo.catalog import CHANNELS
from siyu.demo.messages import DemoMessage
from siyu.events.service import ingest_request

BATCH_SIZE = 100  # what the Segment SDKs send per request
WINDOW = 500  # messages buffered across channels before every channel's buffer is sent


@dataclass
class LoadReport:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    batches: int = 0
    merges: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemoSources:
    ids: dict[str, int]  # channel code → source id
    first_loaded: datetime  # when the first demo source was created in this database

    @property
    def anchor(self) -> datetime:
        """The end of the demo history: midnight (UTC) of the day the demo was first loaded here, so that
        re-running on a later day regenerates exactly the same messages (and adds nothing)."""
        return as_utc(self.first_loaded).replace(hour=0, minute=0, second=0, microsecond=0)


def ensure_sources(session: Session) -> DemoSources:
    """One source per channel, created when missing (their write keys are not needed: the demo hands
    messages to the pipeline by source id, as the HTTP edge does once it has checked the key)."""
    ids: dict[str, int] = {}
    created: list[datetime] = []
    for channel in CHANNELS:
        source = session.scalar(select(Source).where(Source.name == channel.source_name))
        if source is None:
            source, _key = create_source(session, channel.source_name)
        ids[channel.code] = source.id
        created.append(as_utc(source.created_at))
    return DemoSources(ids, min(created))


def batches(
    stream: Sequence[DemoMessage], size: int = BATCH_SIZE, window: int = WINDOW
) -> Iterator[tuple[str, list[DemoMessage]]]:
    """(channel, batch) in time order: every `window` messages each channel's buffer goes out in batches of
    at most `size`, so no message waits behind more than `window` later ones of other channels."""
    if size < 1 or window < 1:
        raise ValueError("size and window must be ≥ 1")
    buffers: dict[str, list[DemoMessage]] = {}
    for start in range(0, len(stream), window):
        for message in stream[start : start + window]:
            buffers.setdefault(message.channel, []).append(message)
            if len(buffers[message.channel]) == size:
                yield message.channel, buffers.pop(message.channel)
        for channel in sorted(buffers, key=lambda c: buffers[c][0].at):
            yield channel, buffers[channel]
        buffers.clear()


def load(
    stream: Sequence[DemoMessage],
    source_ids: dict[str, int],
    on_batch: Callable[[int], None] | None = None,
) -> LoadReport:
    """Ingest `stream`; `on_batch(n)` is called after each batch of n messages (progress bars)."""
    report = LoadReport()
    for channel, batch in batches(stream):
        result = ingest_request(source_ids[channel], [m.payload for m in batch], None, None)
        report.sent += len(batch)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.merges += len(result.merges)
        report.batches += 1
        report.errors.extend(
            f"{e.message_id}: {e.field}: {e.message}"
            for e in result.errors[: max(0, 20 - len(report.errors))]
        )
        if on_batch is not None:
            on_batch(len(batch))
    return report
