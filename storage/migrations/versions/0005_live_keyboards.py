"""Live keyboards: per chat, the message whose buttons are still live.

Revision ID: 0005
Revises: 0004 (to become 0004 once the branch that adds 0004 is merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_keyboards",
        sa.Column("chat", sa.String(), primary_key=True),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_keyboards")
