"""Storage: the database (its two dialects, SQLite and PostgreSQL), the instance folder's
paths, the locks one publisher and the key ring take, and the unit of work every operation
writes through. No room and no door is imported from here."""
