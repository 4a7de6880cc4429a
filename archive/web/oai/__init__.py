"""The OAI-PMH 2.0 data provider (/oai): the protocol (protocol.py), its resumption tokens
(resumption.py) and the XML it answers with (envelope.py)."""

from archive.web.oai.protocol import bp

__all__ = ["bp"]
