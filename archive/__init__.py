"""Escrow: an oral-history archive that keeps testimonies sealed until their embargo date."""

from __future__ import annotations

from archive.app import create_app

__all__ = ["create_app"]
