"""Media: codecs, translation, framing, sound files, tones, the jitter buffer and level
detection.

Pure computation on samples and frames: no sockets, no clock, no trio, and nothing from
``pbxedge.iax2`` (only sound files are read and written), so channels of any kind (IAX2
legs, local phones) share it. The channel layer maps its codec bits onto
:class:`pbxedge.media.formats.Format`.
"""
