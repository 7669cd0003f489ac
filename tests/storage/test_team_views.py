"""The team's views on every backend: the queue a page at a time in the same order as the
whole list, and the counts for the risk picture equal to counting the concerns in Python;
on SQL, in a fixed number of statements however many concerns there are."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from test_contract import T0, a_concern

from dialogues.records import Concern
from storage.database import SqlStorage
from storage.repositories import Storage
from storage.views import OPEN_STATUSES, PAGE_SIZE, QueueKey, QueuePage, band_rank

BANDS = ("extreme", "high", "moderate", "low", "retired_band")
STATUSES = (*OPEN_STATUSES, "closed", "recorded")
ORGANISATIONS = ("cuh", "papworth", "other")
STANDARDS = (("S1.2", "S2.1"), ("S2.1", "S1.2"), (), ("S3.3",), ("S9.9", "S1.1"))


def varied(count: int, seed: int = 7, prefix: str = "QC-") -> list[Concern]:
    """Concerns of every band, status and organisation; some filed at the same moment, so
    that the reference has to decide their order."""
    draw = random.Random(seed)
    made = []
    for n in range(count):
        likelihood, impact = draw.randint(1, 5), draw.randint(1, 5)
        made.append(a_concern(
            f"{prefix}{n:04d}", band=draw.choice(BANDS), score=likelihood * impact,
            likelihood=likelihood, impact=impact, status=draw.choice(STATUSES),
            organisation=draw.choice(ORGANISATIONS), standards=draw.choice(STANDARDS),
            created_at=T0 + timedelta(hours=draw.randrange(count // 3 + 1)),
            queued_for_team=True,
        ))  # fmt: skip
    return made


def filed(storage: Storage, concerns: list[Concern], closed_at: int = 3) -> list[Concern]:
    """Store them; every `closed_at`th open one also gets a closing time (so is not open);
    the ones still open, in queue order."""
    still_open = []
    with storage.unit_of_work() as uow:
        for n, concern in enumerate(concerns):
            uow.concerns.add(concern)
            if concern.status in OPEN_STATUSES and n % closed_at == 0:
                uow.concerns.set_triage(concern.reference, closed_at=T0)
            elif concern.status in OPEN_STATUSES:
                still_open.append(concern)
    return sorted(still_open, key=lambda c: (band_rank(c.band), c.created_at, c.reference))


def references(page: QueuePage) -> list[str]:
    return [entry.reference for entry in page.entries]


def page(storage: Storage, **where: Any) -> QueuePage:
    with storage.unit_of_work() as uow:
        return uow.views.queue_page(**where)


def test_the_pages_forward_and_back_are_the_whole_queue_in_order(storage: Storage) -> None:
    expected = [c.reference for c in filed(storage, varied(130))]
    assert len(expected) > 3 * PAGE_SIZE
    pages = [page(storage)]
    while pages[-1].has_next:
        pages.append(page(storage, after=pages[-1].entries[-1].key))
    assert all(len(p.entries) <= PAGE_SIZE for p in pages)
    assert [r for p in pages for r in references(p)] == expected
    assert [p.before for p in pages] == list(range(0, len(expected), PAGE_SIZE))
    assert {p.total for p in pages} == {len(expected)}
    assert not pages[0].has_previous and pages[1].has_previous and not pages[-1].has_next
    back = [pages[-1]]
    while back[-1].has_previous:
        back.append(page(storage, before=back[-1].entries[0].key))
    # Backwards from the last (short) page, the first page is filled up to a whole page.
    assert [r for p in reversed(back) for r in references(p)][: PAGE_SIZE * 2] == expected[
        : PAGE_SIZE * 2
    ]
    assert references(back[-1]) == expected[:PAGE_SIZE]
    with storage.unit_of_work() as uow:
        entry = uow.views.queue_page().entries[0]
    assert QueueKey.from_text(entry.key.to_text()) == entry.key


def test_a_concern_filed_or_closed_between_pages_moves_nothing_else(storage: Storage) -> None:
    expected = [c.reference for c in filed(storage, varied(70))]
    first = page(storage)
    newcomer = a_concern("QC-NEW1", band="extreme", score=25, likelihood=5, impact=5,
                         status="queued", created_at=T0 - timedelta(days=1))  # fmt: skip
    with storage.unit_of_work() as uow:
        uow.concerns.add(newcomer)  # ahead of everything: on no page after the first
        uow.concerns.set_status(expected[PAGE_SIZE], "closed")  # the next page's first
    second = page(storage, after=first.entries[-1].key)
    assert references(second) == expected[PAGE_SIZE + 1 : 2 * PAGE_SIZE + 1]
    assert second.before == PAGE_SIZE + 1 and second.total == len(expected)
    again = page(storage, before=second.entries[0].key)
    assert references(again) == expected[:PAGE_SIZE]  # the newcomer is page 1's, but only one


def test_after_the_last_concern_is_the_last_page_and_before_the_first_the_first(
    storage: Storage,
) -> None:
    expected = [c.reference for c in filed(storage, varied(60))]
    last_key = page(storage, size=len(expected)).entries[-1].key
    beyond = replace(last_key, rank=9)
    assert references(page(storage, after=beyond)) == expected[-PAGE_SIZE:]
    assert page(storage, after=beyond).before == len(expected) - PAGE_SIZE
    before_all = replace(last_key, rank=-1)
    assert references(page(storage, before=before_all)) == expected[:PAGE_SIZE]
    assert references(page(storage, size=5)) == expected[:5]


def test_no_open_concern_is_an_empty_page(storage: Storage) -> None:
    empty = page(storage)
    assert empty.entries == () and empty.total == 0 and not empty.has_next
    with storage.unit_of_work() as uow:
        assert uow.views.open_counts().total == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_counts_are_the_open_concerns_counted_in_python(storage: Storage, seed: int) -> None:
    concerns = varied(90, seed=seed)
    open_ = {c.reference for c in filed(storage, concerns)}
    counted = [c for c in concerns if c.reference in open_]
    with storage.unit_of_work() as uow:
        counts = uow.views.open_counts()
    assert counts.total == len(counted)
    assert dict(counts.cells) == Counter((c.likelihood, c.impact) for c in counted)
    assert dict(counts.organisations) == Counter(c.organisation for c in counted)
    assert dict(counts.standards) == Counter(tuple(sorted(c.standards)) for c in counted)


@contextmanager
def statements(storage: Storage) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs."""
    assert isinstance(storage, SqlStorage)
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(storage.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(storage.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("many", [30, 150])
def test_a_page_is_at_most_3_statements_and_the_counts_a_fixed_few(
    database_url: str, many: int
) -> None:
    from secret_keys import keys_for

    from storage.database import open_storage, upgrade

    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    try:
        filed(storage, varied(many, prefix=f"QC-{many}-"))
        page(storage)  # the first unit of work reads the hashing key: not a page's cost
        with statements(storage) as first:
            one = page(storage)
        with statements(storage) as middle:
            page(storage, after=one.entries[-1].key)
        with statements(storage) as back:
            page(storage, before=one.entries[-1].key)
        with statements(storage) as counting, storage.unit_of_work() as uow:
            uow.views.open_counts()
    finally:
        storage.close()
    assert len(first) <= 3 and len(middle) <= 3 and len(back) <= 3, (first, middle, back)
    # BEGIN (on SQLite) and two GROUP BY statements, whatever the number of concerns.
    assert len([s for s in counting if s.lstrip().upper().startswith("SELECT")]) == 2
    assert len(counting) <= 3
