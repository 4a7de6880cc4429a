"""Room records (every story ever released, present or gone, for harvesters) and API tokens.

Existing released stories get a present record stamped with their release instant; a story
released once and since taken down or withdrawn gets a gone record stamped with the instant
of its latest takedown or withdrawal, read from the audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('room_records',
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('datestamp', archive.storage.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_room_records_story_id_stories')),
    sa.PrimaryKeyConstraint('story_id', name=op.f('pk_room_records'))
    )
    with op.batch_alter_table('room_records', schema=None) as batch_op:
        batch_op.create_index('ix_room_records_datestamp_story', ['datestamp', 'story_id'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', archive.storage.database.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', archive.storage.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('digest', name=op.f('uq_api_tokens_digest'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    op.execute("INSERT INTO room_records (story_id, present, datestamp) "
               "SELECT id, true, released_at FROM released_stories")
    op.execute("INSERT INTO room_records (story_id, present, datestamp) "
               "SELECT story_id, false, MAX(at) FROM audit_log "
               "WHERE action IN ('story.takedown', 'story.withdraw') "
               "AND story_id IN (SELECT story_id FROM audit_log WHERE action = 'story.release') "
               "AND story_id NOT IN (SELECT id FROM released_stories) "
               "GROUP BY story_id")


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')
    with op.batch_alter_table('room_records', schema=None) as batch_op:
        batch_op.drop_index('ix_room_records_datestamp_story')
    op.drop_table('room_records')
