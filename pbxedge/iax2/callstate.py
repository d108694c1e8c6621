"""The life cycle of one IAX2 call number: states, inputs and the tables joining them.

Kept in the style of h2's ``_transitions``: every allowed ``(CallState, CallInput)`` pair is
listed in :data:`TRANSITIONS`; a pair missing from it is refused. :mod:`pbxedge.iax2.call`
feeds the inputs (local commands and frames from the peer) through :func:`transition`.

A native transfer (reference iax2.md §7.6) runs beside that life cycle, in its own table
:data:`TRANSFER_TRANSITIONS`: a call is either a *leg* being re-pathed by the node that
bridges it (TXREQ, TXCNT/TXACC with the other leg, TXREADY, then TXREL or TXMEDIA), or one
of the two calls this node bridges and re-paths itself (the *bridge* states).
"""

from __future__ import annotations

import enum

from mypy_extensions import mypyc_attr

__all__ = [
    "TRANSFER_TRANSITIONS",
    "TRANSITIONS",
    "CallInput",
    "CallState",
    "CallStateError",
    "TransferInput",
    "TransferState",
    "transition",
]


class CallState(enum.Enum):
    # Members are singletons compared by identity: the identity hash is right, and it
    # is not a Python call like Enum's (each frame looks the tables up).
    __hash__ = object.__hash__

    IDLE = "idle"
    TOKEN_WAIT = "token-wait"  # our request went out with an empty CALLTOKEN IE
    REQUEST_SENT = "request-sent"  # our request went out again carrying the token
    REQUEST_RECEIVED = "request-received"  # the peer's NEW/REGREQ/REGREL created this call
    AUTH = "auth"  # a challenge (AUTHREQ/REGAUTH) went one way
    LINKED = "linked"  # ACCEPT seen
    UP = "up"  # ANSWER seen
    HANGING_UP = "hanging-up"  # our final frame (HANGUP/REJECT/REGACK/REGREJ) awaits its ACK
    DESTROYED = "destroyed"


class CallInput(enum.Enum):
    __hash__ = object.__hash__  # see CallState

    SEND_REQUEST = enum.auto()
    RECV_REQUEST = enum.auto()
    RECV_CALLTOKEN = enum.auto()
    SEND_CHALLENGE = enum.auto()
    RECV_CHALLENGE = enum.auto()
    SEND_AUTH_REPLY = enum.auto()
    RECV_AUTH_REPLY = enum.auto()
    SEND_ACCEPT = enum.auto()
    RECV_ACCEPT = enum.auto()
    SEND_ANSWER = enum.auto()
    RECV_ANSWER = enum.auto()
    SEND_FINAL = enum.auto()
    RECV_END = enum.auto()  # HANGUP, REJECT, REGACK, REGREJ, INVAL, or the PONG to our POKE
    FINAL_ACKED = enum.auto()
    GIVE_UP = enum.auto()
    DESTROY = enum.auto()


S, In = CallState, CallInput

# Every allowed (state, input) pair. Anything else is refused.
TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (S.IDLE, In.SEND_REQUEST): S.TOKEN_WAIT,
    (S.IDLE, In.RECV_REQUEST): S.REQUEST_RECEIVED,
    # A peer that does not require tokens answers the first request directly.
    (S.TOKEN_WAIT, In.RECV_CALLTOKEN): S.REQUEST_SENT,
    (S.TOKEN_WAIT, In.RECV_CHALLENGE): S.AUTH,
    (S.TOKEN_WAIT, In.RECV_ACCEPT): S.LINKED,
    (S.REQUEST_SENT, In.RECV_CHALLENGE): S.AUTH,
    (S.REQUEST_SENT, In.RECV_ACCEPT): S.LINKED,
    (S.REQUEST_RECEIVED, In.SEND_CHALLENGE): S.AUTH,
    (S.REQUEST_RECEIVED, In.SEND_ACCEPT): S.LINKED,
    # Registrations stay in AUTH through the authenticated REGREQ until REGACK/REGREJ.
    (S.AUTH, In.SEND_AUTH_REPLY): S.AUTH,
    (S.AUTH, In.RECV_AUTH_REPLY): S.AUTH,
    (S.AUTH, In.SEND_CHALLENGE): S.AUTH,
    (S.AUTH, In.RECV_CHALLENGE): S.AUTH,
    (S.AUTH, In.SEND_ACCEPT): S.LINKED,
    (S.AUTH, In.RECV_ACCEPT): S.LINKED,
    (S.LINKED, In.SEND_ANSWER): S.UP,
    (S.LINKED, In.RECV_ANSWER): S.UP,
    (S.UP, In.SEND_ANSWER): S.UP,
    (S.UP, In.RECV_ANSWER): S.UP,
    (S.HANGING_UP, In.FINAL_ACKED): S.DESTROYED,
}
for _state in (S.TOKEN_WAIT, S.REQUEST_SENT, S.REQUEST_RECEIVED, S.AUTH, S.LINKED, S.UP):
    TRANSITIONS[(_state, In.SEND_FINAL)] = S.HANGING_UP
for _state in CallState:
    if _state is not S.DESTROYED:
        TRANSITIONS[(_state, In.RECV_END)] = S.DESTROYED
        TRANSITIONS[(_state, In.GIVE_UP)] = S.DESTROYED
        TRANSITIONS[(_state, In.DESTROY)] = S.DESTROYED
del _state


class TransferState(enum.Enum):
    __hash__ = object.__hash__  # see CallState

    NONE = "none"
    # A leg: our peer (the bridge) is re-pathing this call toward another endpoint.
    BEGIN = "begin"  # TXREQ accepted; TXCNT goes to the other leg until its TXACC
    READY = "ready"  # TXACC came; TXREADY went to the bridge
    MEDIAPASS = "mediapass"  # TXMEDIA: our mini voice goes straight to the other leg
    # One of the two calls this node bridges and re-paths.
    BRIDGE_BEGIN = "bridge-begin"  # TXREQ sent
    BRIDGE_READY = "bridge-ready"  # the leg's TXREADY came
    RELEASED = "released"  # TXREL sent: the leg talks to the other leg from now on
    MEDIA = "media"  # TXMEDIA sent: media goes direct, signalling still through us


class TransferInput(enum.Enum):
    __hash__ = object.__hash__  # see CallState

    RECV_TXREQ = enum.auto()
    RECV_TXACC = enum.auto()
    RECV_TXREL = enum.auto()  # the leg moves to the other leg: back to NONE
    RECV_TXMEDIA = enum.auto()
    SEND_TXREQ = enum.auto()
    RECV_TXREADY = enum.auto()
    SEND_TXREL = enum.auto()
    SEND_TXMEDIA = enum.auto()
    CANCEL = enum.auto()  # TXREJ either way, or the other leg never answered


T, TIn = TransferState, TransferInput

TRANSFER_TRANSITIONS: dict[tuple[TransferState, TransferInput], TransferState] = {
    (T.NONE, TIn.RECV_TXREQ): T.BEGIN,
    (T.BEGIN, TIn.RECV_TXREQ): T.BEGIN,  # a resent TXREQ
    (T.BEGIN, TIn.RECV_TXACC): T.READY,
    (T.READY, TIn.RECV_TXREL): T.NONE,
    (T.READY, TIn.RECV_TXMEDIA): T.MEDIAPASS,
    (T.BEGIN, TIn.CANCEL): T.NONE,
    (T.READY, TIn.CANCEL): T.NONE,
    (T.MEDIAPASS, TIn.CANCEL): T.NONE,
    (T.NONE, TIn.SEND_TXREQ): T.BRIDGE_BEGIN,
    (T.BRIDGE_BEGIN, TIn.RECV_TXREADY): T.BRIDGE_READY,
    (T.BRIDGE_READY, TIn.SEND_TXREL): T.RELEASED,
    (T.BRIDGE_READY, TIn.SEND_TXMEDIA): T.MEDIA,
    (T.BRIDGE_BEGIN, TIn.CANCEL): T.NONE,
    (T.BRIDGE_READY, TIn.CANCEL): T.NONE,
}


@mypyc_attr(native_class=False)
class CallStateError(RuntimeError):
    """A command that the call's current state does not allow."""

    def __init__(self, state: CallState, call_input: CallInput) -> None:
        super().__init__(f"{call_input.name} is not allowed in state {state.name}")
        self.state = state
        self.call_input = call_input


def transition(state: CallState, call_input: CallInput) -> CallState:
    try:
        return TRANSITIONS[(state, call_input)]
    except KeyError:
        raise CallStateError(state, call_input) from None
