"""IAX2 codec bits ⇄ the media layer's formats (the media layer knows nothing of IAX2)."""

from __future__ import annotations

from pbxedge.iax2.codecs import Codec
from pbxedge.media.formats import Format

__all__ = ["CODEC_OF_FORMAT", "codec_of", "format_of", "media_capability"]

CODEC_OF_FORMAT: dict[Format, Codec] = {
    Format.ULAW: Codec.ULAW,
    Format.ALAW: Codec.ALAW,
    Format.SLIN: Codec.SLIN,
    Format.SLIN16: Codec.SLIN16,
    Format.G722: Codec.G722,
    Format.GSM: Codec.GSM,
}
_FORMAT_OF_CODEC = {int(codec): fmt for fmt, codec in CODEC_OF_FORMAT.items()}


def format_of(codec: int) -> Format | None:
    """The media format of an IAX2 voice subclass; None for codecs pbxedge only relays."""
    return _FORMAT_OF_CODEC.get(codec)


def codec_of(fmt: Format) -> Codec:
    return CODEC_OF_FORMAT[fmt]


def media_capability() -> int:
    """The codec bits pbxedge can decode and encode itself."""
    mask = 0
    for codec in CODEC_OF_FORMAT.values():
        mask |= codec
    return mask
