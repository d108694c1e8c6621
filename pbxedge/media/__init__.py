"""Media: codecs, translation, framing, sound files, tones and the jitter buffer.

Pure code with no network or timer I/O; the channel layer maps its codec bits onto
`pbxedge.media.formats.Format` and drives everything here.
"""
