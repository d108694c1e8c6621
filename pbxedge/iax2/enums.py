"""Wire constants of IAX2 as Asterisk puts them on the wire (reference iax2.md §1.5–§1.8).

Names follow Asterisk's headers (iax2.h, frame.h, causes.h) so that log lines and the debug
dump read the same as Asterisk's.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "IE",
    "AuthMethod",
    "Cause",
    "ControlSubclass",
    "DpStatus",
    "EncryptionMethod",
    "FrameType",
    "IaxSubclass",
    "MetaCommand",
]


class FrameType(IntEnum):
    """Byte 10 of a full frame: Asterisk's internal frame type, sent as is."""

    DTMF_END = 1
    VOICE = 2
    VIDEO = 3
    CONTROL = 4
    NULL = 5
    IAX = 6
    TEXT = 7
    IMAGE = 8
    HTML = 9
    CNG = 10
    MODEM = 11
    DTMF_BEGIN = 12


class IaxSubclass(IntEnum):
    """Subclass of an IAX (type 6) frame, iax2.h 51-120."""

    NEW = 1
    PING = 2
    PONG = 3
    ACK = 4
    HANGUP = 5
    REJECT = 6
    ACCEPT = 7
    AUTHREQ = 8
    AUTHREP = 9
    INVAL = 10
    LAGRQ = 11
    LAGRP = 12
    REGREQ = 13
    REGAUTH = 14
    REGACK = 15
    REGREJ = 16
    REGREL = 17
    VNAK = 18
    DPREQ = 19
    DPREP = 20
    DIAL = 21
    TXREQ = 22
    TXCNT = 23
    TXACC = 24
    TXREADY = 25
    TXREL = 26
    TXREJ = 27
    QUELCH = 28
    UNQUELCH = 29
    POKE = 30
    PAGE = 31
    MWI = 32
    UNSUPPORT = 33
    TRANSFER = 34
    PROVISION = 35
    FWDOWNL = 36
    FWDATA = 37
    TXMEDIA = 38
    RTKEY = 39
    CALLTOKEN = 40


class ControlSubclass(IntEnum):
    """Subclass of a CONTROL (type 4) frame, frame.h 277-343."""

    STOP_SOUNDS = -1  # 0xFF on the wire: "stop playing indications"
    HANGUP = 1
    RING = 2
    RINGING = 3
    ANSWER = 4
    BUSY = 5
    TAKEOFFHOOK = 6
    OFFHOOK = 7
    CONGESTION = 8
    FLASH = 9
    WINK = 10
    OPTION = 11
    RADIO_KEY = 12
    RADIO_UNKEY = 13
    PROGRESS = 14
    PROCEEDING = 15
    HOLD = 16
    UNHOLD = 17
    VIDUPDATE = 18
    T38 = 19
    SRCUPDATE = 20
    TRANSFER = 21
    CONNECTED_LINE = 22
    REDIRECTING = 23
    T38_PARAMETERS = 24
    CC = 25
    SRCCHANGE = 26
    READ_ACTION = 27
    AOC = 28
    END_OF_Q = 29
    INCOMPLETE = 30
    MCID = 31
    UPDATE_RTP_PEER = 32
    PVT_CAUSE_CODE = 33
    MASQUERADE_NOTIFY = 34
    STREAM_TOPOLOGY_REQUEST_CHANGE = 35
    STREAM_TOPOLOGY_CHANGED = 36
    STREAM_TOPOLOGY_SOURCE_CHANGED = 37


class IE(IntEnum):
    """Information element ids, iax2.h 131-190."""

    CALLED_NUMBER = 1
    CALLING_NUMBER = 2
    CALLING_ANI = 3
    CALLING_NAME = 4
    CALLED_CONTEXT = 5
    USERNAME = 6
    PASSWORD = 7
    CAPABILITY = 8
    FORMAT = 9
    LANGUAGE = 10
    VERSION = 11
    ADSICPE = 12
    DNID = 13
    AUTHMETHODS = 14
    CHALLENGE = 15
    MD5_RESULT = 16
    RSA_RESULT = 17
    APPARENT_ADDR = 18
    REFRESH = 19
    DPSTATUS = 20
    CALLNO = 21
    CAUSE = 22
    IAX_UNKNOWN = 23
    MSGCOUNT = 24
    AUTOANSWER = 25
    MUSICONHOLD = 26
    TRANSFERID = 27
    RDNIS = 28
    PROVISIONING = 29
    AESPROVISIONING = 30
    DATETIME = 31
    DEVICETYPE = 32
    SERVICEIDENT = 33
    FIRMWAREVER = 34
    FWBLOCKDESC = 35
    FWBLOCKDATA = 36
    PROVVER = 37
    CALLINGPRES = 38
    CALLINGTON = 39
    CALLINGTNS = 40
    SAMPLINGRATE = 41
    CAUSECODE = 42
    ENCRYPTION = 43
    ENCKEY = 44
    CODEC_PREFS = 45
    RR_JITTER = 46
    RR_LOSS = 47
    RR_PKTS = 48
    RR_DELAY = 49
    RR_DROPPED = 50
    RR_OOO = 51
    VARIABLE = 52
    OSPTOKEN = 53
    CALLTOKEN = 54
    CAPABILITY2 = 55
    FORMAT2 = 56
    CALLINGANI2 = 57


class MetaCommand(IntEnum):
    """Byte 2 of a meta frame; Asterisk only processes trunk frames."""

    TRUNK = 1


class AuthMethod(IntFlag):
    """AUTHMETHODS IE bits, iax2.h 197-199."""

    PLAINTEXT = 1
    MD5 = 2
    RSA = 4


class EncryptionMethod(IntFlag):
    """ENCRYPTION IE bits, iax2.h 201-202."""

    AES128 = 0x0001
    KEYROTATE = 0x8000


class DpStatus(IntFlag):
    """DPSTATUS IE bits, iax2.h 217-221."""

    EXISTS = 1
    CANEXIST = 2
    NONEXISTENT = 4
    IGNOREPAT = 0x4000
    MATCHMORE = 0x8000


class Cause(IntEnum):
    """Q.850 cause codes as Asterisk names them (causes.h); carried in CAUSECODE."""

    NOTDEFINED = 0
    UNALLOCATED = 1
    NO_ROUTE_TRANSIT_NET = 2
    NO_ROUTE_DESTINATION = 3
    MISDIALLED_TRUNK_PREFIX = 5
    CHANNEL_UNACCEPTABLE = 6
    CALL_AWARDED_DELIVERED = 7
    PRE_EMPTED = 8
    NUMBER_PORTED_NOT_HERE = 14
    NORMAL_CLEARING = 16
    USER_BUSY = 17
    NO_USER_RESPONSE = 18
    NO_ANSWER = 19
    SUBSCRIBER_ABSENT = 20
    CALL_REJECTED = 21
    NUMBER_CHANGED = 22
    REDIRECTED_TO_NEW_DESTINATION = 23
    ANSWERED_ELSEWHERE = 26
    DESTINATION_OUT_OF_ORDER = 27
    INVALID_NUMBER_FORMAT = 28
    FACILITY_REJECTED = 29
    RESPONSE_TO_STATUS_ENQUIRY = 30
    NORMAL_UNSPECIFIED = 31
    NORMAL_CIRCUIT_CONGESTION = 34
    NETWORK_OUT_OF_ORDER = 38
    NORMAL_TEMPORARY_FAILURE = 41
    SWITCH_CONGESTION = 42
    ACCESS_INFO_DISCARDED = 43
    REQUESTED_CHAN_UNAVAIL = 44
    FACILITY_NOT_SUBSCRIBED = 50
    OUTGOING_CALL_BARRED = 52
    INCOMING_CALL_BARRED = 54
    BEARERCAPABILITY_NOTAUTH = 57
    BEARERCAPABILITY_NOTAVAIL = 58
    BEARERCAPABILITY_NOTIMPL = 65
    CHAN_NOT_IMPLEMENTED = 66
    FACILITY_NOT_IMPLEMENTED = 69
    INVALID_CALL_REFERENCE = 81
    INCOMPATIBLE_DESTINATION = 88
    INVALID_MSG_UNSPECIFIED = 95
    MANDATORY_IE_MISSING = 96
    MESSAGE_TYPE_NONEXIST = 97
    WRONG_MESSAGE = 98
    IE_NONEXIST = 99
    INVALID_IE_CONTENTS = 100
    WRONG_CALL_STATE = 101
    RECOVERY_ON_TIMER_EXPIRE = 102
    MANDATORY_IE_LENGTH_ERROR = 103
    PROTOCOL_ERROR = 111
    INTERWORKING = 127
