"""An IAX2 call leg as the dialplan sees it.

The channel turns dialplan requests into frames on its call (through :class:`IaxLink`)
and turns what the peer sends (voice, digits, text, hangup) into what the dialplan and the
media layer wait for. It knows nothing of sequence numbers or authentication: the
inbound/outbound handlers feed it.

Bridged to another IAX2 leg of the same node, voice does not pass through the channel at
all once both legs agree on the codec: the endpoint relays it (the fast path, see
:meth:`pbxedge.iax2.endpoint.Endpoint.forward_voice`). Only the first frame, codec changes
and frames that need transcoding come through :meth:`IaxChannel.remote_voice`.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Protocol

import trio

from dialplan.channel import ChannelState, Feature, Indication
from pbxedge.channels.codecmap import codec_of, format_of
from pbxedge.channels.media import MediaChannel, MediaEnv, VoiceFrame
from pbxedge.events import DtmfBegin, DtmfEnd, HangupRequest, Newstate, SoftHangupRequest
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.enums import IE, ControlSubclass, IaxSubclass
from pbxedge.iax2.ies import IEList
from pbxedge.media.jitterbuffer import JitterBufferSettings
from pbxedge.media.translate import Translator

__all__ = ["EndpointLink", "IaxChannel", "IaxLink", "set_system_name"]

logger = logging.getLogger("pbxedge.channels")

_MEDIA_FEATURES = frozenset(Feature)
_SIGNALLING_FEATURES = frozenset({Feature.DTMF_IN, Feature.DTMF_OUT, Feature.TEXT})
_INDICATIONS = {
    Indication.RINGING: ControlSubclass.RINGING,
    Indication.PROGRESS: ControlSubclass.PROGRESS,
    Indication.BUSY: ControlSubclass.BUSY,
    Indication.CONGESTION: ControlSubclass.CONGESTION,
}
_sequence = itertools.count(1)
# ``<systemname>-`` before every unique ID, as Asterisk does: nodes sharing one CDR table
# must not hand out the same IDs.
_uniqueid_prefix = ""


def set_system_name(name: str | None) -> None:
    global _uniqueid_prefix
    _uniqueid_prefix = f"{name}-" if name else ""


class IaxLink(Protocol):
    """How a channel reaches its call on the wire."""

    callno: int

    def send_control(self, subclass: int) -> None: ...
    def send_text(self, text: str) -> None: ...
    def send_dtmf(self, digit: str, begin: bool) -> None: ...
    def send_voice(self, codec: int, payload: bytes, samples: int) -> None: ...
    def forward_voice(self, dst: int, codec: int, payload: bytes, timestamp: int,
                      samples: int) -> None: ...
    def unbridge(self) -> None: ...
    def set_jitterbuffer(self, settings: JitterBufferSettings | None) -> None: ...
    def hangup(self, cause: int) -> None: ...
    def send_transfer(self, exten: str, context: str | None) -> bool: ...


class _Service(Protocol):
    @property
    def endpoint(self) -> _Commands: ...
    def now(self) -> float: ...
    def kick(self) -> None: ...


class _Commands(Protocol):
    def send_control(self, callno: int, subclass: int, now: float, payload: bytes = b"") -> None: ...
    def send_text(self, callno: int, text: str, now: float) -> None: ...
    def send_dtmf(self, callno: int, digit: str, now: float, *, begin: bool = False) -> None: ...
    def send_voice(self, callno: int, codec: int, payload: bytes, now: float,
                   samples: int) -> None: ...
    def forward_voice(self, src: int, dst: int, codec: int, payload: bytes, timestamp: int,
                      samples: int, now: float) -> None: ...
    def unbridge(self, src: int) -> None: ...
    def set_jitterbuffer(self, callno: int, settings: JitterBufferSettings | None,
                         now: float) -> None: ...
    def hangup(self, callno: int, cause: int, now: float) -> None: ...
    def send_iax(self, callno: int, subclass: IaxSubclass, ies: IEList | None, now: float, *,
                 final: bool = False) -> None: ...


class EndpointLink:
    """:class:`IaxLink` over the node's endpoint. A call that vanished meanwhile (the peer
    hung up, retries ran out) makes a command a no-op: there is nobody left to tell.

    Voice is not kicked out at once: it leaves with the transport's next flush (after the
    receive batch or timer that produced it), so a burst of frames costs one flush.
    """

    def __init__(self, service: _Service, callno: int) -> None:
        self._service = service
        self.callno = callno

    def _run(self, command: str, *args: object, **kwargs: object) -> None:
        endpoint = self._service.endpoint
        try:
            getattr(endpoint, command)(self.callno, *args, self._service.now(), **kwargs)
        except (UnknownCall, CallStateError) as exc:
            logger.debug("call %d: %s dropped (%s)", self.callno, command, exc)
            return
        self._service.kick()

    def send_control(self, subclass: int) -> None:
        self._run("send_control", subclass)

    def send_text(self, text: str) -> None:
        self._run("send_text", text)

    def send_dtmf(self, digit: str, begin: bool) -> None:
        self._run("send_dtmf", digit, begin=begin)

    def send_voice(self, codec: int, payload: bytes, samples: int) -> None:
        service = self._service
        service.endpoint.send_voice(self.callno, codec, payload, service.now(), samples)
        service.kick()

    def forward_voice(self, dst: int, codec: int, payload: bytes, timestamp: int,
                      samples: int) -> None:
        service = self._service
        service.endpoint.forward_voice(self.callno, dst, codec, payload, timestamp, samples,
                                       service.now())

    def unbridge(self) -> None:
        self._service.endpoint.unbridge(self.callno)

    def set_jitterbuffer(self, settings: JitterBufferSettings | None) -> None:
        self._run("set_jitterbuffer", settings)

    def hangup(self, cause: int) -> None:
        self._run("hangup", cause)

    def send_transfer(self, exten: str, context: str | None) -> bool:
        """IAX TRANSFER (blind): CALLED_NUMBER, and CALLED_CONTEXT when one is named."""
        ies = IEList().add_str(IE.CALLED_NUMBER, exten)
        if context:
            ies.add_str(IE.CALLED_CONTEXT, context)
        try:
            self._service.endpoint.send_iax(self.callno, IaxSubclass.TRANSFER, ies,
                                            self._service.now())
        except (UnknownCall, CallStateError):
            return False
        self._service.kick()
        return True


class IaxChannel(MediaChannel):
    """One IAX2 call leg (``IAX2/<host>-<callno>``)."""

    technology = "IAX2"

    def __init__(
        self,
        name: str,
        link: IaxLink,
        *,
        env: MediaEnv,
        nursery: trio.Nursery,
        codec: int = 0,
        state: ChannelState = ChannelState.RING,
        caller_num: str | None = None,
        caller_name: str | None = None,
        language: str = "en",
        accountcode: str = "",
    ) -> None:
        super().__init__(name, env, nursery, format_of(codec))
        self._name = name
        self._uniqueid = f"{_uniqueid_prefix}{int(time.time())}.{next(_sequence)}"
        self._link = link
        self._state = state
        self.caller_num = caller_num
        self.caller_name = caller_name
        self.caller_ani: str | None = caller_num
        self.language = language
        self.accountcode = accountcode
        self.amaflags = "default"
        self.username = ""
        self.dnid: str | None = None
        self.rdnis: str | None = None
        self.variables: dict[str, str] = {}
        self.hangup_cause = 0
        self.codec = codec
        self.rx_codec = 0  # the format of the last voice received
        self._peer: IaxChannel | None = None  # the IAX2 leg our voice is relayed to
        self._to_peer: Translator | None = None
        self.jitterbuffer: JitterBufferSettings | None = None  # from the user/peer's config
        self._digit_sent_at = 0.0  # trio time of the last DTMF BEGIN sent (for its duration)
        self.transfer_policy = "default"  # transfer= of the user or peer this leg belongs to

    # -- identity and state ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def uniqueid(self) -> str:
        return self._uniqueid

    @property
    def link(self) -> IaxLink:
        return self._link

    @property
    def state(self) -> ChannelState:
        return self._state

    def set_codec(self, codec: int) -> None:
        """The format negotiated for the call (ACCEPT)."""
        self.codec = codec
        self.native = format_of(codec)

    def supports(self, feature: Feature) -> bool:
        features = _MEDIA_FEATURES if self.native is not None else _SIGNALLING_FEATURES
        return feature in features

    # -- from the peer --------------------------------------------------------------------

    def _set_state(self, state: ChannelState) -> None:
        self._state = state
        if self.env.events.active:
            self.env.events.publish(Newstate(self))

    def remote_answered(self) -> None:
        self._set_state(ChannelState.UP)
        self._mark_answered()

    def remote_ringing(self) -> None:
        if self._state not in (ChannelState.UP, ChannelState.RINGING):
            self._set_state(ChannelState.RINGING)

    def remote_digit(self, digit: str, *, begin: bool = False) -> None:
        """A DTMF_BEGIN or DTMF_END from the peer (whose END carries no duration)."""
        events = self.env.events
        if events.active:
            events.publish(DtmfBegin(self, digit) if begin else DtmfEnd(self, digit))
        self.receive_digit(digit, begin=begin)

    def remote_text(self, text: str) -> None:
        self.receive_text(text)

    def remote_voice(self, codec: int, payload: bytes, timestamp: int) -> None:
        """Audio from the peer that the endpoint did not relay itself."""
        self.rx_codec = codec
        peer = self._peer
        if peer is not None:
            self._to_iax_peer(peer, codec, payload, timestamp)
            return
        fmt = format_of(codec)
        if fmt is None:
            return  # a codec pbxedge cannot decode, with nobody to relay it to
        self.receive_voice(VoiceFrame(fmt, payload, fmt.samples_in(len(payload)), timestamp))

    def _to_iax_peer(self, peer: IaxChannel, codec: int, payload: bytes, timestamp: int) -> None:
        fmt = format_of(codec)
        if codec != peer.codec:
            target = peer.native
            if fmt is None or target is None:
                return  # nothing can translate between these two codecs: silence
            translator = self._to_peer
            if translator is None or translator.src is not fmt or translator.dst is not target:
                translator = self._to_peer = Translator(fmt, target)
            payload = translator.convert(payload)
            if not payload:
                return
            codec, fmt = peer.codec, target
        samples = fmt.samples_in(len(payload)) if fmt is not None else 160
        self._link.forward_voice(peer.link.callno, codec, payload, timestamp, samples)

    def remote_hold(self, on: bool) -> None:
        """CONTROL HOLD/UNHOLD from the peer; a bridge decides what the other side hears."""
        self.receive_hold(on)

    def remote_hangup(self, cause: int) -> None:
        """The peer ended the call (HANGUP/REJECT CAUSECODE, or the call was lost)."""
        if self.is_hungup:
            return
        if cause:
            self.hangup_cause = cause
        if self.env.events.active:
            self.env.events.publish(HangupRequest(self, self.hangup_cause))
        self._mark_hungup()

    # -- bridging to another IAX2 leg -----------------------------------------------------

    def relay_voice_to(self, peer: MediaChannel | None) -> bool:
        """Another IAX2 leg gets our voice straight from the endpoint."""
        if self._peer is not None and peer is None:
            self._link.unbridge()
        self._peer = peer if isinstance(peer, IaxChannel) else None
        self._to_peer = None
        return self._peer is not None

    def use_jitterbuffer(self, on: bool) -> None:
        """Only where the audio ends here, and only with ``jitterbuffer=yes``: never on an
        IAX2-to-IAX2 bridge, where the far end buffers for itself."""
        if self.jitterbuffer is not None:
            self._link.set_jitterbuffer(self.jitterbuffer if on else None)

    # -- what MediaChannel needs ----------------------------------------------------------

    def _emit_voice(self, frame: VoiceFrame) -> None:
        self._link.send_voice(int(codec_of(frame.fmt)), frame.payload, frame.samples)

    def _emit_digit(self, digit: str, begin: bool) -> None:
        self._link.send_dtmf(digit, begin)
        events = self.env.events
        if events.active:
            now = trio.current_time()
            if begin:
                self._digit_sent_at = now
                events.publish(DtmfBegin(self, digit, "Sent"))
            else:
                held = round((now - self._digit_sent_at) * 1000) if self._digit_sent_at else 0
                events.publish(DtmfEnd(self, digit, held, "Sent"))

    def _emit_text(self, text: str) -> None:
        self._link.send_text(text)

    # -- from the dialplan ----------------------------------------------------------------

    async def answer(self) -> None:
        if self.is_hungup or self._state is ChannelState.UP:
            return
        self.answer_now()
        await self.wait_for_first_voice()

    def answer_now(self) -> None:
        """ANSWER without waiting for the caller's audio (a bridge answering its caller)."""
        if self.is_hungup or self._state is ChannelState.UP:
            return
        self._set_state(ChannelState.UP)
        self._mark_answered()
        self._link.send_control(ControlSubclass.ANSWER)
        # Asterisk follows ANSWER with "stop sounds" (CONTROL 255, §15.7).
        self._link.send_control(ControlSubclass.STOP_SOUNDS)

    async def hangup(self, cause: int) -> None:
        self.hangup_now(cause)

    def hangup_now(self, cause: int) -> None:
        """End the call from this side: HANGUP with *cause* (once)."""
        if self.is_hungup:
            return
        self.hangup_cause = cause
        events = self.env.events
        if events.active:
            events.publish(SoftHangupRequest(self, cause))
            events.publish(HangupRequest(self, cause))
        self._mark_hungup()
        self._link.hangup(cause)

    async def transfer(self, destination: str) -> bool:
        """``Transfer()``: ask the peer to send its side of the call to ``exten[@context]``
        (iax2_transfer); the answer is the peer's hangup, or nothing."""
        if self.is_hungup:
            return False
        exten, _, context = destination.partition("@")
        return self._link.send_transfer(exten, context or None)

    async def indicate(self, indication: Indication) -> None:
        if not self.is_hungup:
            self._link.send_control(_INDICATIONS[indication])

    def _emit_hold(self, on: bool) -> None:
        self._link.send_control(ControlSubclass.HOLD if on else ControlSubclass.UNHOLD)

    def _emit_flash(self) -> None:
        self._link.send_control(ControlSubclass.FLASH)
