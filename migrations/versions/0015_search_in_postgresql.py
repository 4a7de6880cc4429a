"""Search in PostgreSQL: released copies hash-partitioned with a search vector each, its RUM
(or GIN) index, and the purges a takedown leaves pending. On SQLite only the table of pending
purges (empty there: SQLite's search is the Whoosh index).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import archive.storage.database

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

PARTITIONS = 32  # archive/reading_room/postgres.py's PARTITIONS: about 1,600 stories each at 50,000
COLUMNS = ("id, title, narrator, transcript, summary, interviewer, interview_date, place, language, tags, "
           "redaction_level, released_at, content_hash, captions, recording_id")


def upgrade() -> None:
    op.create_table('search_purges',
    sa.Column('partition', sa.String(length=128), nullable=False),
    sa.Column('story_id', sa.String(length=32), nullable=False),
    sa.Column('since', archive.storage.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('partition', 'story_id', name=op.f('pk_search_purges'))
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    execute = op.execute
    execute("ALTER TABLE released_stories RENAME TO released_stories_unpartitioned")
    execute("ALTER TABLE released_stories_unpartitioned RENAME CONSTRAINT pk_released_stories "
            "TO pk_released_stories_unpartitioned")
    execute("DROP INDEX ix_released_stories_language")
    execute("DROP INDEX ix_released_stories_released_at")
    execute("CREATE TABLE released_stories (LIKE released_stories_unpartitioned INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS) PARTITION BY HASH (id)")
    execute("ALTER TABLE released_stories ADD CONSTRAINT pk_released_stories PRIMARY KEY (id)")
    execute("ALTER TABLE released_stories ADD COLUMN search_vector tsvector")
    execute("ALTER TABLE released_stories ADD COLUMN search_places text")  # where each word stands, for snippets
    for n in range(PARTITIONS):
        execute(f"CREATE TABLE released_stories_p{n:02d} PARTITION OF released_stories "
                f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})")
    execute(f"INSERT INTO released_stories ({COLUMNS}) SELECT {COLUMNS} FROM released_stories_unpartitioned")
    execute("DROP TABLE released_stories_unpartitioned")
    execute("CREATE INDEX ix_released_stories_language ON released_stories (language)")
    execute("CREATE INDEX ix_released_stories_released_at ON released_stories (released_at)")
    # RUM ranks in the index; without the extension (postgresql-NN-rum), GIN, and the newest
    # matches are ranked (postgres.py). Tried in a savepoint: a failed CREATE EXTENSION must not
    # abort the migration's transaction.
    bind = op.get_bind()
    with bind.begin_nested() as trying:
        try:
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS rum")
        except sa.exc.DBAPIError:
            trying.rollback()
    rum = bind.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'rum')").scalar()
    using = "rum (search_vector rum_tsvector_ops)" if rum else "gin (search_vector)"
    execute(f"CREATE INDEX ix_released_stories_search_vector ON released_stories USING {using}")
    from sqlalchemy.orm import Session

    from archive.reading_room import postgres  # the vectors of what is already released

    session = Session(bind=bind)
    postgres.fill(session)


def downgrade() -> None:
    op.drop_table('search_purges')
    if op.get_bind().dialect.name != "postgresql":
        return
    execute = op.execute
    execute("ALTER TABLE released_stories RENAME TO released_stories_partitioned")
    execute("ALTER TABLE released_stories_partitioned RENAME CONSTRAINT pk_released_stories "
            "TO pk_released_stories_partitioned")
    execute("DROP INDEX ix_released_stories_language")
    execute("DROP INDEX ix_released_stories_released_at")
    execute("DROP INDEX ix_released_stories_search_vector")
    execute(f"CREATE TABLE released_stories AS SELECT {COLUMNS} FROM released_stories_partitioned")
    execute("DROP TABLE released_stories_partitioned")
    for column in ("id", "title", "narrator", "summary", "interviewer", "interview_date", "place", "language",
                   "tags", "redaction_level", "released_at", "content_hash"):
        execute(f"ALTER TABLE released_stories ALTER COLUMN {column} SET NOT NULL")
    execute("ALTER TABLE released_stories ADD CONSTRAINT pk_released_stories PRIMARY KEY (id)")
    execute("CREATE INDEX ix_released_stories_language ON released_stories (language)")
    execute("CREATE INDEX ix_released_stories_released_at ON released_stories (released_at)")
