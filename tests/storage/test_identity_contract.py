"""Identity records on every backend: a concern reads with its reporter until it is unlinked,
one concern at a time (`unlink`) or all of a person's (`forget_owner`); then nothing joins it
to them, /status no longer lists it, and everything else about it stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from test_contract import T0, a_concern, a_conversation

from storage.repositories import Storage, UnknownConcern

ALEX, SAM = "telegram:user:5550001", "console:sam"


def file_three(storage: Storage) -> None:
    """Two concerns of Alex's (the later one newer), one of Sam's."""
    with storage.unit_of_work() as work:
        work.concerns.add(replace(a_concern("QC-A1"), owner=ALEX))
        later = T0 + timedelta(hours=1)
        work.concerns.add(replace(a_concern("QC-A2"), owner=ALEX, created_at=later))
        work.concerns.add(
            replace(a_concern("QC-S1"), owner=SAM, reporter_name="Sam", reporter_contact="s@x")
        )


def test_a_concern_reads_with_its_reporter_found_by_owner(storage: Storage) -> None:
    file_three(storage)
    with storage.unit_of_work() as work:
        sams = work.concerns.get("QC-S1")
        alexs = [c.reference for c in work.concerns.for_owner(ALEX)]
    assert sams is not None
    assert (sams.owner, sams.reporter_name, sams.reporter_contact) == (SAM, "Sam", "s@x")
    assert alexs == ["QC-A2", "QC-A1"]


def test_forgetting_a_person_unlinks_all_their_concerns_and_only_theirs(storage: Storage) -> None:
    file_three(storage)
    with storage.unit_of_work() as work:
        assert work.concerns.forget_owner(ALEX) == ["QC-A2", "QC-A1"]
        assert work.concerns.for_owner(ALEX) == []  # seen at once, in the same unit of work
    with storage.unit_of_work() as work:
        forgotten = work.concerns.get("QC-A1")
        assert work.concerns.for_owner(ALEX) == []
        assert [c.reference for c in work.concerns.for_owner(SAM)] == ["QC-S1"]
        assert work.concerns.forget_owner(ALEX) == []  # nothing left to forget
        assert work.concerns.count() == 3
    assert forgotten is not None
    assert (forgotten.owner, forgotten.reporter_name, forgotten.reporter_contact) == (
        "",
        None,
        None,
    )
    kept = replace(a_concern("QC-A1"), owner="", reporter_name=None, reporter_contact=None)
    assert forgotten == kept  # the concern itself is all there


def test_one_concern_is_unlinked_once_and_an_unknown_one_is_refused(storage: Storage) -> None:
    file_three(storage)
    with storage.unit_of_work() as work:
        assert work.concerns.unlink("QC-S1") is True
        assert work.concerns.unlink("QC-S1") is False
        with pytest.raises(UnknownConcern):
            work.concerns.unlink("QC-NONE")
    with storage.unit_of_work() as work:
        unlinked = work.concerns.get("QC-S1")
        assert work.concerns.unlink("QC-S1") is False
        assert work.concerns.for_owner(SAM) == []
        assert len(work.concerns.for_owner(ALEX)) == 2
    assert unlinked is not None and unlinked.reporter_name is None and unlinked.owner == ""


def test_forgetting_in_a_unit_of_work_that_fails_forgets_nothing(storage: Storage) -> None:
    file_three(storage)
    with pytest.raises(RuntimeError), storage.unit_of_work() as work:
        work.concerns.forget_owner(ALEX)
        raise RuntimeError("rolled back")
    with storage.unit_of_work() as work:
        assert len(work.concerns.for_owner(ALEX)) == 2


def test_a_persons_drafts_are_found_by_owner_and_deleted(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.conversations.put(a_conversation("telegram:5550001/concern", owner=ALEX))
        work.conversations.put(a_conversation("telegram:5550001/pathway", owner=ALEX))
        work.conversations.put(a_conversation("console:sam/concern", owner=SAM))
    with storage.unit_of_work() as work:
        drafts = work.conversations.for_owner(ALEX)
        assert sorted(c.key for c in drafts) == [
            "telegram:5550001/concern",
            "telegram:5550001/pathway",
        ]
        for draft in drafts:
            work.conversations.delete(draft.key)
    with storage.unit_of_work() as work:
        assert work.conversations.for_owner(ALEX) == []
        assert work.conversations.get("telegram:5550001/concern") is None
        assert [c.owner for c in work.conversations.for_owner(SAM)] == [SAM]


def test_unlinking_deletes_the_relays_in_the_reporters_chat_and_only_those(
    storage: Storage,
) -> None:
    file_three(storage)
    with storage.unit_of_work() as work:
        work.relays.add("QC-A1", "to_team", "telegram:5550001", "71", T0)  # a question to Alex
        work.relays.add("QC-A1", "to_reporter", "telegram:-100", "72", T0)  # a team prompt
        work.relays.add("QC-S1", "to_team", "telegram:5550002", "73", T0)
    with storage.unit_of_work() as work:
        work.concerns.forget_owner(ALEX)
    with storage.unit_of_work() as work:
        assert work.relays.find("telegram:5550001", "71") is None  # nothing leads to QC-A1
        assert work.relays.find("telegram:-100", "72") is not None
        assert work.relays.find("telegram:5550002", "73") is not None
