"""Which ``iax.conf`` option names Asterisk knows that pbxedge does not act on.

Unknown names are warned about by the builder; the names here get a more helpful warning
instead: obsolete ones say why they have no effect, not-yet-implemented ones say so.
"""

from __future__ import annotations

__all__ = ["NOT_IMPLEMENTED", "OBSOLETE"]

# Valid in Asterisk 22 but meaningless for pbxedge, with the reason shown to the admin.
OBSOLETE: dict[str, str] = {
    "keyrotate": "key rotation follows the peer's ENCRYPTION offer",
    "forcejitterbuffer": "the jitter buffer always runs when jitterbuffer=yes",
    "allowfwdownload": "IAXy firmware download is not served (traffic amplification risk)",
    "nochecksums": "UDP checksums are always left to the kernel",
    "cos": "802.1p priority is not set by pbxedge",
    "iaxthreadcount": "pbxedge does not use helper threads",
    "iaxmaxthreadcount": "pbxedge does not use helper threads",
    "mailboxdetail": "message counts are always sent in full",
    "notransfer": "use transfer=no instead",
}

# Valid Asterisk options whose values pbxedge keeps but does not use yet.
NOT_IMPLEMENTED: frozenset[str] = frozenset(
    {
        "acl",
        "adsi",
        "connectedline",
        "mailbox",
        "mohinterpret",
        "mohsuggest",
        "parkinglot",
        "sourceaddress",
        "subscribe_network_change_event",
    }
)
