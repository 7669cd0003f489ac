"""Fixtures for the report tests: the real content and a factory of Concern records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeAlias

import pytest

from dialogues.bundle import Content, load_content
from dialogues.records import Advice, Concern

MakeConcern: TypeAlias = Callable[..., Concern]

RECEIVED = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture
def make_concern(content: Content) -> MakeConcern:
    """A confidential High (amber) concern; keyword arguments replace any field."""

    def make(**changes: Any) -> Concern:
        concern = Concern(
            reference="QC-2025-0001",
            owner="telegram:user:1001",
            identity="confidential",
            reporter_name="Alex Reporter",
            reporter_contact="alex.reporter@example.nhs.uk",
            learner_group="resident_doctors",
            organisation="cambridge_university_hospitals",
            organisation_other=None,
            site="Ward 7, general medicine",
            programme="Foundation year 1",
            description="Nobody senior answers bleeps at night.",
            started="months",
            frequency="often",
            topics=("supervision",),
            standards=("3.1", "1.1"),
            likelihood=4,
            impact=3,
            score=12,
            band="high",
            controls=("none",),
            controls_detail=None,
            further_actions="A named senior on call each night",
            told=("supervisor",),
            told_outcome="unresolved",
            barrier=("none",),
            affected="several",
            danger_now="no",
            patient_risk="could_be",
            wants_team="yes",
            advice=Advice(level=2, reasons=("reason.unresolved",)),
            queued_for_team=True,
            status="queued",
            content_version=content.version,
            created_at=RECEIVED,
        )
        return replace(concern, **changes)

    return make
