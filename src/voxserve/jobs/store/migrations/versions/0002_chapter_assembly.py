"""Chapters are assembled as soon as their segments are done; a project's tasks are
published through an outbox (published once, retried by a sweeper if the publisher died).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("publish_claimed_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("tasks_published_at", sa.DateTime(timezone=True),
                                   nullable=True))
    with op.batch_alter_table("chapters") as batch:
        batch.add_column(sa.Column("assembly_claimed_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("assembled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chapters") as batch:
        batch.drop_column("assembled_at")
        batch.drop_column("assembly_claimed_at")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("tasks_published_at")
        batch.drop_column("publish_claimed_at")
