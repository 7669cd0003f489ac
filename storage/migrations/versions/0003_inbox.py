"""The inbox: updates kept from their arrival until they are handled.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("chat", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _utc("received_at"),
        sa.Column("takes", sa.Integer(), nullable=False),
        _utc("taken_until", nullable=True),
        _utc("handled_at", nullable=True),
    )
    op.create_index("ix_inbox_key", "inbox", ["key"], unique=True)
    # A chat's next item, and the chats with something waiting.
    op.create_index("ix_inbox_chat_seq", "inbox", ["chat", "seq"])
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_handled_at", table_name="inbox")
    op.drop_index("ix_inbox_chat_seq", table_name="inbox")
    op.drop_index("ix_inbox_key", table_name="inbox")
    op.drop_table("inbox")
