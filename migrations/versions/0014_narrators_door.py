"""The narrator's own door: codenames (their slow hash only), what narrators did, holds and
the cooling-off after a narrator withdraws consent.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

KINDS = ("delay", "protect", "words", "object", "earlier", "looser", "withdraw", "undo", "note", "cleared",
         "destroyed", "to_narrator")
STATES = ("done", "pending", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Not in batch mode: SQLite would rebuild the stories table, which other tables' keys refer to.
    op.add_column('stories', sa.Column('hold', sa.String(length=16), nullable=True))
    op.add_column('stories', sa.Column('cooling_until', archive.storage.database.UTCDateTime(), nullable=True))
    op.create_index(op.f('ix_stories_cooling_until'), 'stories', ['cooling_until'], unique=False)
    salt = op.create_table('narrator_salt',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('salt', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_narrator_salt'))
    )
    # The archive's own salt for codenames' hashes, made once, here, so that two first issues
    # at once never race to make it.
    op.bulk_insert(salt, [{"id": 1, "salt": os.urandom(16)}])
    op.create_table('narrator_codenames',
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('session_key', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_narrator_codenames_issued_by_id_users')),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_narrator_codenames_story_id_stories')),
    sa.PrimaryKeyConstraint('story_id', name=op.f('pk_narrator_codenames')),
    sa.UniqueConstraint('digest', name=op.f('uq_narrator_codenames_digest'))
    )
    op.create_table('narrator_actions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('text_sealed', sa.Text(), nullable=True),
    sa.Column('until', archive.storage.database.UTCDateTime(), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=True),
    sa.Column('before', sa.String(length=20), nullable=True),
    sa.Column('released_at', archive.storage.database.UTCDateTime(), nullable=True),
    sa.Column('at', archive.storage.database.UTCDateTime(), nullable=False),
    sa.Column('closed_by', sa.String(length=254), nullable=True),
    sa.Column('closed_at', archive.storage.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint(_in("kind", KINDS), name=op.f('ck_narrator_actions_kind')),
    sa.CheckConstraint(_in("state", STATES), name=op.f('ck_narrator_actions_state')),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_narrator_actions_story_id_stories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_narrator_actions'))
    )
    op.create_index(op.f('ix_narrator_actions_story_id'), 'narrator_actions', ['story_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_narrator_actions_story_id'), table_name='narrator_actions')
    op.drop_table('narrator_actions')
    op.drop_table('narrator_codenames')
    op.drop_table('narrator_salt')
    op.drop_index(op.f('ix_stories_cooling_until'), table_name='stories')
    op.drop_column('stories', 'cooling_until')
    op.drop_column('stories', 'hold')
