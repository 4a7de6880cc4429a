"""Stewardship: embargo requests awaiting a second admin, and anchored audit heads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:08:58.651982
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_anchors',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('anchored_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_anchors'))
    )
    op.create_table('embargo_requests',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('until', archive.storage.database.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('expires_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', archive.storage.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'approved', 'denied')", name=op.f('ck_embargo_requests_state')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_embargo_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_embargo_requests_requested_by_id_users')),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_embargo_requests_story_id_stories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embargo_requests'))
    )
    with op.batch_alter_table('embargo_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_embargo_requests_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_embargo_requests_story_id'), ['story_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('embargo_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_embargo_requests_story_id'))
        batch_op.drop_index(batch_op.f('ix_embargo_requests_state'))

    op.drop_table('embargo_requests')
    op.drop_table('audit_anchors')
