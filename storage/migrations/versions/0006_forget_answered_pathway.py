"""Forget the pathway questions answered before an answered one was deleted at once.

Until now an answered pathway question kept its conversation row (with no answers, but with
the chat's key and owner), while its closing words said nothing was stored. It is deleted
when answered now; this deletes the rows left by earlier runs. A concern is never touched.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text("DELETE FROM conversations WHERE journey = 'pathway' AND state = 'answered'")
    )


def downgrade() -> None:
    """Nothing to undo: what was deleted held no answers, and is not brought back."""
