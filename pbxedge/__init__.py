"""pbxedge: an Asterisk-compatible IAX2 PBX edge node."""

__version__ = "0.1.0"
