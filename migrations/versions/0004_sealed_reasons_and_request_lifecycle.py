"""Requests that end when their story changes, and reasons sealed with the story.

Adds stories.embargo_changed_at (set to updated_at for stories that exist), the request
state 'cancelled', and embargo_requests.reason_sealed; the plaintext reason column becomes
nullable and is written no more (older rows keep theirs until their story is withdrawn).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embargo_changed_at', archive.storage.database.UTCDateTime(), nullable=True))
    op.execute("UPDATE stories SET embargo_changed_at = updated_at")
    with op.batch_alter_table('embargo_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_sealed', sa.Text(), nullable=True))
        batch_op.alter_column('reason', existing_type=sa.String(length=500), nullable=True)
        batch_op.drop_constraint(batch_op.f('ck_embargo_requests_state'), type_='check')
        batch_op.create_check_constraint(
            'state', "state IN ('pending', 'approved', 'denied', 'cancelled')")


def downgrade() -> None:
    op.execute("UPDATE embargo_requests SET state = 'denied' WHERE state = 'cancelled'")
    op.execute("UPDATE embargo_requests SET reason = '(sealed)' WHERE reason IS NULL")
    with op.batch_alter_table('embargo_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_embargo_requests_state'), type_='check')
        batch_op.create_check_constraint('state', "state IN ('pending', 'approved', 'denied')")
        batch_op.alter_column('reason', existing_type=sa.String(length=500), nullable=False)
        batch_op.drop_column('reason_sealed')
    # Not in batch mode: SQLite would rebuild the table, which other tables' keys refer to.
    op.drop_column('stories', 'embargo_changed_at')
