"""Session generations become random (128 bits) instead of a counter.

A counter starting at 0 could be counted along by anyone holding the signing key; a random
generation must be read from the database. Every account gets a new one, so every session
signed in before this version ends (people sign in again).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not in batch mode: SQLite would rebuild the users table, which other tables' keys refer to.
    op.add_column('users', sa.Column('session_generation', sa.String(length=32), server_default='',
                                     nullable=False))
    bind = op.get_bind()
    for user_id in bind.execute(sa.text("SELECT id FROM users")).scalars().all():
        bind.execute(sa.text("UPDATE users SET session_generation = :generation WHERE id = :id"),
                     {"generation": secrets.token_urlsafe(16), "id": user_id})
    op.drop_column('users', 'session_epoch')


def downgrade() -> None:
    op.add_column('users', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    op.drop_column('users', 'session_generation')
