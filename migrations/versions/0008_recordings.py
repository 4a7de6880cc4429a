"""Recordings: a story's interview, sealed in the media folder under its own wrapped data key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recordings',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('rendition', sa.String(length=16), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('dek_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('kek_version', sa.Integer(), nullable=True),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("rendition IN ('original')", name=op.f('ck_recordings_rendition')),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_recordings_story_id_stories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_story_id'), ['story_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_story_id'))
    op.drop_table('recordings')
