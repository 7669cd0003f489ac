"""Drop the live keyboards: since issue 11 a typed answer leaves the last question's buttons
where they are (a press on them is answered as stale, then they go), so no chat's live
message is recorded any more.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("live_keyboards")


def downgrade() -> None:
    # Empty, as 0008's downgrade leaves it: a button still live then is answered as stale.
    op.create_table(
        "live_keyboards",
        sa.Column("chat", sa.String(), primary_key=True),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
    )
