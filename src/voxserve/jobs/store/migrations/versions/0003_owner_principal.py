"""Projects are owned by a stable principal id, not by a name.

Before, ``projects.owner`` held the API key's *name* (or the JWT subject), so a new key
created with a revoked key's name inherited that key's projects. It now holds
``key:<API key id>`` or ``jwt:<sub>``. Rows written before cannot be attributed to a key id
in SQL, so they become ``legacy:<name>``: visible to ``admin`` principals only, until an
operator gives them to their owner (``docs/operations.md``,
``UPDATE projects SET owner = 'key:<id>' WHERE owner = 'legacy:<name>'``).

Revision ID: 0003_owner_principal
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0003_owner_principal"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE projects SET owner = 'legacy:' || owner "
        "WHERE owner IS NOT NULL AND owner NOT LIKE 'legacy:%'"
    )


def downgrade() -> None:
    # Back to names where they are known (legacy rows, JWT subjects); key ids stay ids.
    op.execute("UPDATE projects SET owner = substr(owner, 8) WHERE owner LIKE 'legacy:%'")
    op.execute("UPDATE projects SET owner = substr(owner, 5) WHERE owner LIKE 'jwt:%'")
