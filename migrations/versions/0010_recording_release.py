"""What of a recording is released: the narrator's choice per story, muted renditions, and the
released rendition of a released story.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


CHOICES = "recording_release IN ('none', 'muted', 'full')"


def upgrade() -> None:
    # Not in batch mode: SQLite would rebuild the stories table, which other tables' keys refer
    # to; it adds a column with its own CHECK in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE stories ADD COLUMN recording_release VARCHAR(8) DEFAULT 'none' NOT NULL "
                   f"CONSTRAINT ck_stories_recording_release CHECK ({CHOICES})")
    else:
        op.add_column('stories', sa.Column('recording_release', sa.String(length=8), server_default='none',
                                           nullable=False))
        op.create_check_constraint('recording_release', 'stories', CHOICES)
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_recordings_rendition'), type_='check')
        batch_op.create_check_constraint('rendition', "rendition IN ('original', 'muted')")
    with op.batch_alter_table('released_stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('released_stories', schema=None) as batch_op:
        batch_op.drop_column('recording_id')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_recordings_rendition'), type_='check')
        batch_op.create_check_constraint('rendition', "rendition IN ('original')")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f('ck_stories_recording_release'), 'stories', type_='check')
    op.drop_column('stories', 'recording_release')
