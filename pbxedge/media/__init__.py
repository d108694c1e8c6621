"""Audio for calls that end at this node: codecs, tones, jitter buffering, level detection.

Pure computation on samples and frames: no sockets, no clock, no trio, and nothing from
``pbxedge.iax2``, so channels of any kind (IAX2 legs, local phones) can share it.
"""
