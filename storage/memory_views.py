"""The team's views (`storage.views`) worked out in Python over any concern repository: the
memory backend's, and the plain statement of what the SQL views must answer."""

from __future__ import annotations

from collections import Counter

from storage.repositories import ConcernRepository, Triage
from storage.views import OPEN_STATUSES, PAGE_SIZE, OpenCounts, QueueEntry, QueueKey, QueuePage


class MemoryViews:
    def __init__(self, concerns: ConcernRepository) -> None:
        self._concerns = concerns

    def _queue(self) -> list[QueueEntry]:
        """Every open concern, in queue order."""
        entries = []
        for concern in self._concerns.search(open_only=True):
            if concern.status not in OPEN_STATUSES:
                continue
            triage = self._concerns.triage(concern.reference) or Triage(concern.reference)
            entries.append(QueueEntry(
                concern.reference, concern.band, concern.score, concern.created_at,
                concern.organisation, concern.organisation_other, concern.status,
                triage.assigned_to,
            ))  # fmt: skip
        return sorted(entries, key=lambda entry: entry.key)

    def queue_page(
        self,
        after: QueueKey | None = None,
        before: QueueKey | None = None,
        size: int = PAGE_SIZE,
    ) -> QueuePage:
        queue = self._queue()
        start = 0
        if after is not None:
            start = sum(entry.key <= after for entry in queue)
            if start >= len(queue):  # nothing after it now: the last page
                start = max(0, len(queue) - size)
        elif before is not None:
            start = max(0, sum(entry.key < before for entry in queue) - size)
        return QueuePage(tuple(queue[start : start + size]), start, len(queue))

    def open_counts(self) -> OpenCounts:
        concerns = [c for c in self._concerns.search(open_only=True) if c.status in OPEN_STATUSES]
        return OpenCounts(
            total=len(concerns),
            cells=Counter((c.likelihood, c.impact) for c in concerns),
            organisations=Counter(c.organisation for c in concerns),
            standards=Counter(tuple(sorted(c.standards)) for c in concerns),
        )
