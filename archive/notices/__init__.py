"""Notices: an outbox of what happened, or is about to happen, to a story, for the people it
concerns (its organizer; admins for what needs them), delivered in the archive and by e-mail.

A notice holds a story's id, an instant and a kind, never anything of the story itself (no
text, no title, no name, no reason): it is safe to leave the archive in an e-mail.
"""
