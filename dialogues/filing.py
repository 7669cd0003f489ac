"""Turning a finished journey's answers into advice and, for a concern, a filed record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dialogues.advice import BARRIERS, NO_BARRIER, Situation, advise, needs_team, queue_for_team
from dialogues.bundle import Content
from dialogues.contacts import quality_team_email
from dialogues.records import Advice, Concern, Conversation, barrier_keys

# No 0/O, 1/I/L or U/V pairs: a reference read aloud or typed from a phone stays itself.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
REFERENCE_PREFIX = "QC"


def make_reference(random_below: Callable[[int], int]) -> str:
    """A short reference such as QC-7KMX-3RTA, from a source of randomness."""
    chars = "".join(REFERENCE_ALPHABET[random_below(len(REFERENCE_ALPHABET))] for _ in range(8))
    return f"{REFERENCE_PREFIX}-{chars[:4]}-{chars[4:]}"


def read_reference(text: str) -> str | None:
    """A reference as typed (any case, spaces or dashes) in its canonical form, or None where
    the text is not a reference's shape: "QC-NOPE" is not garbled into "QC-NOPE-" and looked
    up, so an answer can name what was typed and say it is not a reference."""
    chars = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(chars) == len(REFERENCE_PREFIX) + 8 and chars.startswith(REFERENCE_PREFIX):
        chars = chars[len(REFERENCE_PREFIX) :]
    if len(chars) != 8 or not chars.isascii():
        return None
    return f"{REFERENCE_PREFIX}-{chars[:4]}-{chars[4:]}"


def rating(content: Content, conversation: Conversation) -> tuple[int, str] | None:
    """The score and band key, once both likelihood and impact are given."""
    likelihood = conversation.answer_text("likelihood")
    impact = conversation.answer_text("impact")
    if likelihood is None or impact is None:
        return None
    score = content.catalogue.risk.score(int(likelihood), int(impact))
    return score, content.catalogue.risk.band_for(score).key


def barriers(conversation: Conversation) -> tuple[str, ...]:
    """The barriers the learner ticked, or "none" where they gave none."""
    return barrier_keys(conversation.answers.get("barrier")) or (NO_BARRIER,)


def situation(content: Content, conversation: Conversation) -> Situation:
    pathways = content.catalogue.pathways
    roles = {role.key: role for level in pathways.levels for role in level.roles}
    told = [k for k in conversation.answer_list("told") if k in roles]  # unknown keys: skipped
    raised = max((roles[k].level for k in told), default=0)
    ruled_out = frozenset(b for b in barriers(conversation) if b in BARRIERS)  # likewise
    rated = rating(content, conversation)
    return Situation(
        raised_level=raised,
        outcome=conversation.answer_text("told_outcome") if raised else None,
        barriers=ruled_out,
        band=rated[1] if rated else None,
        danger_now=conversation.answer_text("danger") or "no",
        patient_risk=conversation.answer_text("patient_risk") or "no",
    )


def advice_for(content: Content, conversation: Conversation) -> Advice:
    return advise(situation(content, conversation))


def file_concern(
    content: Content, conversation: Conversation, reference: str, now: datetime
) -> Concern:
    """The concern record for a conversation at its review step."""
    c = conversation
    advice = advice_for(content, c)
    rated = rating(content, c)
    if rated is None:
        raise ValueError("a concern needs likelihood and impact before it is filed")
    wants_team = c.answer_text("wants_team") or "if_advised"
    queued = queue_for_team(advice, wants_team)
    anonymous = c.answer_text("identity") == "anonymous"
    return Concern(
        reference=reference,
        owner=c.owner,
        identity=c.answer_text("identity") or "anonymous",
        reporter_name=None if anonymous else c.answer_text("name"),
        reporter_contact=None if anonymous else c.answer_text("contact"),
        learner_group=c.answer_text("group") or "other",
        organisation=c.answer_text("organisation") or "other",
        organisation_other=c.answer_text("organisation_other"),
        site=c.answer_text("site"),
        programme=c.answer_text("programme"),
        description=c.answer_text("description") or "",
        started=c.answer_text("started") or "not_sure",
        frequency=c.answer_text("frequency") or "once",
        topics=tuple(c.answer_list("topics")),
        standards=tuple(c.answer_list("standards")),
        likelihood=int(c.answer_text("likelihood") or 0),
        impact=int(c.answer_text("impact") or 0),
        score=rated[0],
        band=rated[1],
        controls=tuple(c.answer_list("controls")),
        controls_detail=c.answer_text("controls_detail"),
        further_actions=c.answer_text("actions"),
        told=tuple(c.answer_list("told")),
        told_outcome=c.answer_text("told_outcome"),
        barrier=barriers(c),
        affected=c.answer_text("affected") or "not_sure",
        danger_now=c.answer_text("danger") or "no",
        patient_risk=c.answer_text("patient_risk") or "not_sure",
        wants_team=wants_team,
        advice=advice,
        queued_for_team=queued,
        status="queued" if queued else "recorded",
        content_version=content.version,
        created_at=now,
        university=c.answer_text("university"),
    )


def where_it_went(content: Content, concern: Concern, team_channel: bool) -> str:
    """What the learner is told about where their filed concern went. One sent to the Quality
    team is "on its way" only where a team channel is set up; elsewhere it is saved and waits
    for one, and the learner is given the team's address."""
    say = content.prompts.say
    # The address as the advice above gives it, with its marker while it is unconfirmed.
    email = content.catalogue.support.mark(quality_team_email(content.catalogue))
    if concern.queued_for_team and team_channel:
        return say("queued")
    if concern.queued_for_team:
        anonymous = concern.identity == "anonymous"
        key = "queued_waiting_anonymous" if anonymous else "queued_waiting"
        return say(key, email=email, reference=concern.reference)
    if needs_team(concern.advice):
        return say("queued_by_choice_no", email=email)
    return say("not_queued")
