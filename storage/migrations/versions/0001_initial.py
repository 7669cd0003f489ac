"""The first schema: conversations, concerns, the audit log and seen inbound updates.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _text(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(), nullable=False)


def _flag(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _number(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("key", sa.String(), primary_key=True),
        _text("owner"),
        _text("journey"),
        _text("state"),
        _json("answers"),
        _json("trail"),
        _flag("editing"),
        _flag("paused"),
        _text("interrupt", nullable=True),
        _number("version"),
        _utc("created_at"),
        _utc("updated_at"),
    )
    op.create_index("ix_conversations_owner", "conversations", ["owner"])

    op.create_table(
        "concerns",
        sa.Column("id", sa.Integer(), primary_key=True),
        _text("reference"),
        _text("owner"),
        _text("identity"),
        _text("reporter_name", nullable=True),
        _text("reporter_contact", nullable=True),
        _text("learner_group"),
        _text("organisation"),
        _text("organisation_other", nullable=True),
        _text("site", nullable=True),
        _text("programme", nullable=True),
        _text("description"),
        _text("started"),
        _text("frequency"),
        _json("topics"),
        _json("standards"),
        _number("likelihood"),
        _number("impact"),
        _number("score"),
        _text("band"),
        _json("controls"),
        _text("controls_detail", nullable=True),
        _text("further_actions", nullable=True),
        _json("told"),
        _text("told_outcome", nullable=True),
        _text("barrier"),
        _text("affected"),
        _text("danger_now"),
        _text("patient_risk"),
        _text("wants_team"),
        _json("advice"),
        _flag("queued_for_team"),
        _text("status"),
        _text("content_version"),
        _utc("created_at"),
    )
    op.create_index("ix_concerns_reference", "concerns", ["reference"], unique=True)
    op.create_index("ix_concerns_owner", "concerns", ["owner"])
    op.create_index("ix_concerns_status", "concerns", ["status"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        _utc("at"),
        _text("actor"),
        _text("action"),
        _text("reference", nullable=True),
        _json("detail"),
    )
    op.create_index("ix_audit_log_reference", "audit_log", ["reference"])

    op.create_table(
        "inbound_seen",
        sa.Column("key", sa.String(), primary_key=True),
        _utc("seen_at"),
    )


def downgrade() -> None:
    op.drop_table("inbound_seen")
    op.drop_index("ix_audit_log_reference", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_concerns_status", table_name="concerns")
    op.drop_index("ix_concerns_owner", table_name="concerns")
    op.drop_index("ix_concerns_reference", table_name="concerns")
    op.drop_table("concerns")
    op.drop_index("ix_conversations_owner", table_name="conversations")
    op.drop_table("conversations")
