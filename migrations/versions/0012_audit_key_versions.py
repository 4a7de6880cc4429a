"""Audit keys get versions: the head records the one the chain is under.

A key file with a single `audit:` line is read as audit key version 1, whose check value stays
where it was (archive/vault/keys.py); the chain of an existing archive is all under it, which
the head's new column says.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_head', sa.Column('key_version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    bind = op.get_bind()
    rotated = bind.execute(sa.text("SELECT count(*) FROM audit_head WHERE key_version > 1"))
    if rotated.scalar():
        raise RuntimeError("this archive's audit log has switched audit keys since 0012: it cannot go back "
                           "to a single audit key")
    with op.batch_alter_table('audit_head') as batch:
        batch.drop_column('key_version')
