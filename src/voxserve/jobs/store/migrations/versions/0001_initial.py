"""Projects, chapters and segments.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("voice", sa.String(200), nullable=False),
        sa.Column("audio_format", sa.String(16), nullable=False),
        sa.Column("sample_rate_hz", sa.Integer(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finalize_claimed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_projects_owner", "projects", ["owner"])
    op.create_index("ix_projects_created", "projects", ["created_at", "id"])
    op.create_table(
        "chapters",
        sa.Column("project_id", sa.String(32),
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(32),
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("chapter_index", sa.Integer(), nullable=False),
        sa.Column("paragraph_index", sa.Integer(), nullable=False),
        sa.Column("segment_index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("audio_key", sa.String(1024), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("project_id", "index", name="uq_segments_project_index"),
    )
    op.create_index("ix_segments_project_state", "segments", ["project_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_segments_project_state", table_name="segments")
    op.drop_table("segments")
    op.drop_table("chapters")
    op.drop_index("ix_projects_created", table_name="projects")
    op.drop_index("ix_projects_owner", table_name="projects")
    op.drop_table("projects")
