"""Retention and forget-me: the team's keep-the-text flag, when a concern was anonymised,
and when a draft's owner was warned of its deletion.

No value is read or rewritten: the new columns start empty (nothing kept, nothing
anonymised, nobody warned), which is what every existing row is.

Revision ID: 0008b
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008b"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("concerns") as table:
        table.add_column(
            sa.Column("keep_text", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        table.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("conversations") as table:
        table.add_column(sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as table:
        table.drop_column("warned_at")
    with op.batch_alter_table("concerns") as table:
        table.drop_column("anonymised_at")
        table.drop_column("keep_text")
