"""The reading room: released, already-redacted copies (the source of truth for search).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:27:47.808810
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('released_stories',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('narrator', sa.String(length=200), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('interviewer', sa.String(length=200), nullable=False),
    sa.Column('interview_date', sa.String(length=10), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('language', sa.String(length=35), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('redaction_level', sa.String(length=16), nullable=False),
    sa.Column('released_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_released_stories'))
    )
    with op.batch_alter_table('released_stories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_released_stories_language'), ['language'], unique=False)
        batch_op.create_index(batch_op.f('ix_released_stories_released_at'), ['released_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('released_stories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_released_stories_released_at'))
        batch_op.drop_index(batch_op.f('ix_released_stories_language'))

    op.drop_table('released_stories')
