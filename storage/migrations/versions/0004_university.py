"""A student's university on each concern: their level-2 contact (issue 8).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("concerns") as concerns:
        concerns.add_column(sa.Column("university", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("concerns") as concerns:
        concerns.drop_column("university")
