"""Transcripts as text: span markup, WebVTT (timed transcripts), the one character policy and the
name matcher that redaction uses. Pure functions over text; no database, no keys."""
