"""Segments keep the user's words they say (``source_text``), for subtitles and cues; the
``text`` column stays what the engine reads. NULL for rows written before: their subtitles
show ``text``.

Revision ID: 0004_segment_source_text
Revises: 0003_owner_principal
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_segment_source_text"
down_revision = "0003_owner_principal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("source_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("source_text")
