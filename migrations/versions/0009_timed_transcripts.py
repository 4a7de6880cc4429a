"""Released timed transcripts: the WebVTT captions of a released story, redacted like its transcript.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('released_stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('captions', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('released_stories', schema=None) as batch_op:
        batch_op.drop_column('captions')
