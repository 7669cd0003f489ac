"""The team's views (storage.sql_views): an index the queue pages through and counts its
place from, and one the risk picture's counts read, so that neither reads the concerns'
rows, which are large (sealed text).

The queue's index starts with the band's place in the queue, written out as `storage.tables.
queue_rank` writes it (a planner uses an index on an expression only for the same text);
band, status and closed_at follow the order's columns so the index covers the filter on
open concerns. The counts' index carries each concern's list of standards (JSON): PostgreSQL
cannot order JSON, so it includes it; SQLite has no INCLUDE, so there the list and the other
counted columns are added to the end of the queue's index instead (SQLite's schema reader
skips an index on an expression, which is why the schema check does not see this).
Nothing is rewritten.

Revision ID: 0009
Revises: 0008b
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008b"
branch_labels = None
depends_on = None

RANK = (
    "(CASE WHEN (band = 'extreme') THEN 0 WHEN (band = 'high') THEN 1"
    " WHEN (band = 'moderate') THEN 2 WHEN (band = 'low') THEN 3 ELSE 4 END)"
)
QUEUE = [RANK, "created_at", "reference", "band", "status", "closed_at"]
COUNTED = ["status", "closed_at", "likelihood", "impact", "organisation"]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    queue = QUEUE if postgresql else [*QUEUE, "likelihood", "impact", "organisation", "standards"]
    op.execute(f"CREATE INDEX ix_concerns_queue ON concerns ({', '.join(queue)})")
    if postgresql:
        op.create_index("ix_concerns_open", "concerns", COUNTED, postgresql_include=["standards"])
    else:
        op.create_index("ix_concerns_open", "concerns", COUNTED)


def downgrade() -> None:
    op.drop_index("ix_concerns_open", table_name="concerns")
    op.drop_index("ix_concerns_queue", table_name="concerns")
