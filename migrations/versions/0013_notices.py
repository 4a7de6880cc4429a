"""Notices: an outbox of notices (one per story, kind and instant), their deliveries to each
recipient, and the interface language an account last chose (for its e-mails).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.storage.database import UTCDateTime

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('story_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('instant', UTCDateTime(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('addressed', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
        sa.UniqueConstraint('story_id', 'kind', 'instant', name='uq_notices_story_kind_instant'),
    )
    op.create_index(op.f('ix_notices_addressed'), 'notices', ['addressed'], unique=False)
    op.create_table(
        'notice_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('seen_at', UTCDateTime(), nullable=True),
        sa.Column('mail', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=64), nullable=True),
        sa.CheckConstraint("mail IN ('none', 'pending', 'sent')", name=op.f('ck_notice_deliveries_mail')),
        sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_deliveries_notice_id_notices')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notice_deliveries_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_deliveries')),
        sa.UniqueConstraint('notice_id', 'user_id', name='uq_notice_deliveries_notice_user'),
    )
    op.create_index('ix_notice_deliveries_mail_next', 'notice_deliveries', ['mail', 'next_attempt_at'], unique=False)
    op.create_index('ix_notice_deliveries_user_seen', 'notice_deliveries', ['user_id', 'seen_at'], unique=False)
    # Not in batch mode: SQLite would rebuild the users table, which other tables' keys refer to.
    op.add_column('users', sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column('users', 'language')
    op.drop_index('ix_notice_deliveries_user_seen', table_name='notice_deliveries')
    op.drop_index('ix_notice_deliveries_mail_next', table_name='notice_deliveries')
    op.drop_table('notice_deliveries')
    op.drop_index(op.f('ix_notices_addressed'), table_name='notices')
    op.drop_table('notices')
