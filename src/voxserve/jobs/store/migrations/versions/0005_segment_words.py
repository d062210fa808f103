"""Segments keep their words' times (``words``, JSON ``[{"word", "start_s", "end_s",
"estimated"}]`` in seconds of the segment's own audio), for word-level subtitles. NULL for
rows written before and for engines that cannot align: assembly estimates those words.

Revision ID: 0005_segment_words
Revises: 0004_segment_source_text
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_segment_words"
down_revision = "0004_segment_source_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("words", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("words")
