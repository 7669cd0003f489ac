"""The Quality team's side: triage columns on concerns, the outbox, notes and relays.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TRIAGE_TIMES = ("acknowledged_at", "closed_at")
TRIAGE_TEXTS = ("acknowledged_by", "assigned_to", "outcome")


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table where it cannot ALTER; PostgreSQL just ALTERs.
    with op.batch_alter_table("concerns") as concerns:
        for name in TRIAGE_TIMES:
            concerns.add_column(_utc(name, nullable=True))
        for name in TRIAGE_TEXTS:
            concerns.add_column(_text(name, nullable=True))

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        _text("kind"),
        _text("reference", nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _text("status"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("next_attempt_at"),
        _text("last_error", nullable=True),
        _utc("created_at"),
        _utc("sent_at", nullable=True),
        _text("external_id", nullable=True),
    )
    # The worker's question is always "pending and due by now?".
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_reference", "outbox", ["reference"])

    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        _text("reference"),
        _utc("at"),
        _text("author"),
        _text("text"),
    )
    op.create_index("ix_notes_reference", "notes", ["reference"])

    op.create_table(
        "relays",
        sa.Column("id", sa.Integer(), primary_key=True),
        _text("reference"),
        _text("direction"),
        _text("chat"),
        _text("message_id"),
        _utc("at"),
    )
    op.create_index("ix_relays_chat_message_id", "relays", ["chat", "message_id"], unique=True)
    op.create_index("ix_relays_reference", "relays", ["reference"])


def downgrade() -> None:
    op.drop_index("ix_relays_reference", table_name="relays")
    op.drop_index("ix_relays_chat_message_id", table_name="relays")
    op.drop_table("relays")
    op.drop_index("ix_notes_reference", table_name="notes")
    op.drop_table("notes")
    op.drop_index("ix_outbox_reference", table_name="outbox")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
    with op.batch_alter_table("concerns") as concerns:
        for name in (*TRIAGE_TEXTS, *TRIAGE_TIMES):
            concerns.drop_column(name)
