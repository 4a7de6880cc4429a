"""Accounts: admin grants waiting for a second admin, admin_since, and session generations.

Existing admins count as admins since their account was made; every account starts at
session generation 0 (sessions signed in before this version carry none and end).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_since', archive.storage.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE users SET admin_since = created_at WHERE role = 'admin' AND active")
    op.create_table('admin_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', archive.storage.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'approved', 'denied')", name=op.f('ck_admin_grants_state')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_admin_grants_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_admin_grants_requested_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_admin_grants_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_grants'))
    )
    with op.batch_alter_table('admin_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_grants_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_grants_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('admin_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_grants_user_id'))
        batch_op.drop_index(batch_op.f('ix_admin_grants_state'))
    op.drop_table('admin_grants')
    # Not in batch mode: SQLite would rebuild the table, which other tables' keys refer to.
    op.drop_column('users', 'session_epoch')
    op.drop_column('users', 'admin_since')
