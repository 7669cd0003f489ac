"""Many filed concerns, quickly: one concern filed by the real journey, then varied
(reference, organisation, group, risk, status, age, reporter) and added in batches.

Used by the benchmarks that need "100,000 other concerns" in the database. On SQL storage
the rows go in by bulk inserts of the same rows `uow.concerns.add` writes (a concern row
and its reporter's identity record, sealed with the storage's keys), each text the
variants share sealed once: 100,000 in seconds rather than minutes. Benchmarks only.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, insert

from bot.service import TurnService
from dialogues.bundle import Content, load_content
from dialogues.engine import Dialogue
from dialogues.filing import make_reference
from dialogues.records import Concern
from dialogues.turns import Command, Event, Text
from storage.crypto import KeyRing
from storage.database import SqlStorage
from storage.encrypted import bind_keys
from storage.identity import OWNER, load_hasher, new_identity_id
from storage.memory import MemoryStorage
from storage.repositories import Storage
from storage.sql_concerns import concern_values
from storage.tables import ConcernRow, IdentityRow

# The journey of tests/livechat.py: the story told and checked, then the questions it left,
# a confidential concern with a name and contact.
JOURNEY: list[Event] = [Command("new")] + [
    Text(t)
    for t in ["3",
              "On most night shifts the FY1s cover the wards alone with nobody to escalate to.",
              "yes", "FY1", "Addenbrookes, ward C9", "2", "often", "2 to 5", "2", "2", "done",
              "4", "3", "1", "done", "3", "1", "done", "2", "confidential",
              "Dr Sam Example, sam.example@nhs.net", "submit"]
]  # fmt: skip

STATUS_WEIGHTS = {"queued": 3, "received": 3, "under_review": 2, "with_provider": 1, "closed": 6}
BATCH = 2000


def template(dialogue: Dialogue) -> Concern:
    """One concern filed by the real journey (on memory storage)."""
    storage = MemoryStorage()
    service = TurnService(dialogue, storage)
    reference = None
    for event in JOURNEY:
        reference = service.handle_now("seed", "seed", event).reference
    assert reference is not None, "the journey did not file a concern"
    with storage.unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None
    return concern


def variants(base: Concern, content: Content, count: int, seed: int = 11) -> list[Concern]:
    """`count` concerns like `base`, spread over organisations, groups, risk and a year."""
    draw = random.Random(seed)
    organisations = [o.key for o in content.catalogue.organisations]
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    now = datetime.now(UTC)
    made: list[Concern] = []
    seen: set[str] = set()
    while len(made) < count:
        reference = make_reference(draw.randrange)
        if reference in seen:
            continue
        seen.add(reference)
        likelihood, impact = draw.randint(1, 5), draw.randint(1, 5)
        score = content.catalogue.risk.score(likelihood, impact)
        made.append(
            replace(
                base,
                reference=reference,
                owner=f"telegram:user:{draw.randrange(10**9)}",
                identity=draw.choice(("named", "confidential", "anonymous")),
                organisation=draw.choice(organisations),
                likelihood=likelihood,
                impact=impact,
                score=score,
                band=content.catalogue.risk.band_for(score).key,
                status=draw.choices(statuses, weights)[0],
                wants_team="yes",  # sent to the team: the register's rows and the queue's
                queued_for_team=True,
                created_at=now - timedelta(minutes=draw.randrange(60 * 24 * 365)),
            )
        )
    return made


def seed(storage: Storage, count: int, dialogue: Dialogue | None = None) -> float:
    """Add `count` concerns to `storage`; the seconds it took."""
    started = time.perf_counter()
    dialogue = dialogue or Dialogue(load_content())
    concerns = variants(template(dialogue), dialogue.content, count)
    if isinstance(storage, SqlStorage):
        _bulk(storage, concerns)
        return time.perf_counter() - started
    for first in range(0, count, BATCH):
        with storage.unit_of_work() as uow:
            for concern in concerns[first : first + BATCH]:
                uow.concerns.add(concern)
    return time.perf_counter() - started


class _SealOnce(KeyRing):
    """The storage's key ring, sealing each distinct value once: the variants share their
    texts, and a token per row would only cost time. Seeding only."""

    def __init__(self, ring: KeyRing) -> None:  # a copy of `ring`: its keys are not to hand
        for slot in KeyRing.__slots__:
            setattr(self, slot, getattr(ring, slot))
        self._sealed: dict[bytes, str] = {}

    def encrypt(self, plain: bytes) -> str:
        token = self._sealed.get(plain)
        if token is None:
            token = self._sealed[plain] = super().encrypt(plain)
        return token


def _bulk(storage: SqlStorage, concerns: list[Concern]) -> None:
    """The rows `uow.concerns.add` writes, inserted many at a time."""
    concern_table: Table = ConcernRow.__table__  # type: ignore[attr-defined]  # SQLModel's
    identity_table: Table = IdentityRow.__table__  # type: ignore[attr-defined]
    bind_keys(storage.engine, _SealOnce(storage.keys))
    try:
        for first in range(0, len(concerns), BATCH):
            with storage.engine.begin() as connection:
                hasher = load_hasher(connection, storage.keys)
                identities, rows = [], []
                for concern in concerns[first : first + BATCH]:
                    identity = new_identity_id()
                    identities.append(
                        {
                            "id": identity,
                            "owner_hash": hasher.of(OWNER, concern.owner),
                            "owner": concern.owner,
                            "name": concern.reporter_name,
                            "contact": concern.reporter_contact,
                        }
                    )
                    rows.append(concern_values(concern, identity))
                connection.execute(insert(identity_table), identities)
                connection.execute(insert(concern_table), rows)
    finally:
        bind_keys(storage.engine, storage.keys)
