"""The vault, users, key check values and the hash-chained audit log.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 14:18:58.926299
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('story_id', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_story_id'), ['story_id'], unique=False)

    op.create_table('key_checks',
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('purpose', 'version', name=op.f('pk_key_checks'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('organizer', 'researcher', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('stories',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('embargo_until', archive.storage.database.UTCDateTime(), nullable=True),
    sa.Column('redaction_level', sa.String(length=16), nullable=False),
    sa.Column('release_review', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('dek_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('kek_version', sa.Integer(), nullable=True),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('updated_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("redaction_level IN ('full', 'pseudonymized', 'redacted', 'summary')", name=op.f('ck_stories_redaction_level')),
    sa.CheckConstraint("status IN ('sealed', 'due_for_review', 'released', 'withdrawn')", name=op.f('ck_stories_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_stories_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories'))
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stories_embargo_until'), ['embargo_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_stories_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stories_status'), ['status'], unique=False)

    op.create_table('story_versions',
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_versions_story_id_stories')),
    sa.PrimaryKeyConstraint('story_id', 'version', name=op.f('pk_story_versions'))
    )


def downgrade() -> None:
    op.drop_table('story_versions')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stories_status'))
        batch_op.drop_index(batch_op.f('ix_stories_owner_id'))
        batch_op.drop_index(batch_op.f('ix_stories_embargo_until'))

    op.drop_table('stories')
    op.drop_table('users')
    op.drop_table('key_checks')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_story_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('audit_head')
