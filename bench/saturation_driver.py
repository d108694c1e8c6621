"""Registrations or call setups as fast as a node answers them, from a minimal IAX2 client.

``python -m bench.saturation_driver register|calls HOST PORT WINDOW SECONDS NODE_PID [RATE]``
keeps WINDOW exchanges in flight against the node (starting at most RATE a second, when
given), each the whole exchange a phone makes:

- ``register``: REGREQ, CALLTOKEN, REGREQ with the token, REGAUTH, REGREQ with the MD5
  answer, REGACK, ACK — as peers ``p1`` … ``p2000`` (secret ``s3cret``);
- ``calls``: NEW, CALLTOKEN, NEW with the token, AUTHREQ, AUTHREP (MD5), ACCEPT, ACK,
  ANSWER, one µ-law voice frame (what ``Answer()`` waits for), HANGUP, ACK — as user
  ``load`` to extension 601, which answers and hangs up.

After a warm-up it reads the node's CPU from ``/proc`` and prints one JSON line: exchanges
done and refused, the steady rate, the node's CPU per exchange, its own CPU, and the share
of the machine's CPU time the hypervisor gave to other guests meanwhile (steal).

It exists because ``pbxedge load`` is a whole IAX2 endpoint under trio and costs the load
machine more per exchange than the node it measures: on two cores it cannot keep a node
busy. This loop costs a fraction of that, so with the node on one core and this on the
other, the node's core is the one that runs out.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.crypto import md5_response
from pbxedge.iax2.enums import IE, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList

SECRET = "s3cret"
PEERS = 2000
USER, EXTEN = "load", "601"
REFRESH = 60
WARM_UP = 0.5  # seconds before the measurement starts
GIVE_UP = 2.0  # seconds without an end before an exchange starts again
_SILENCE = b"\xff" * 160  # 20 ms of µ-law
_UNSEQUENCED = {IaxSubclass.ACK, IaxSubclass.INVAL, IaxSubclass.VNAK, IaxSubclass.CALLTOKEN}
_TICKS = 100


@dataclass
class _Exchange:
    name: str  # the peer that registers, or the user that calls
    started: float
    server_call: int = 0
    oseqno: int = 0
    iseqno: int = 0


def machine_steal() -> tuple[float, float]:
    """CPU seconds stolen by the hypervisor, and all CPU seconds, of the whole machine."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is counted in user)
    return ticks[7] / _TICKS, sum(ticks[:8]) / _TICKS


def node_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class _Driver:
    """The loop and the bookkeeping; a subclass opens an exchange and answers the node."""

    request = IaxSubclass.REGREQ

    def __init__(self, target: tuple[str, int], window: int, rate: float = 0.0) -> None:
        self.target = target
        self.window = window
        self.interval = 1 / rate if rate else 0.0
        self.next_start = 0.0
        self.waiting = 0  # exchanges ended and not yet started again (RATE)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.live: dict[int, _Exchange] = {}
        self.free = list(range(2, 2 + 4 * window))  # our call numbers
        self.count = 0
        self.done = self.refused = self.restarted = 0

    def _name(self) -> str:
        raise NotImplementedError

    def _request_ies(self, exchange: _Exchange) -> IEList:
        raise NotImplementedError

    def _answer(self, callno: int, exchange: _Exchange, frame: FullFrame) -> None:
        raise NotImplementedError

    def _send(self, callno: int, exchange: _Exchange, frametype: int, subclass: int,
              payload: bytes = b"", *, timestamp: int | None = None,
              oseqno: int | None = None) -> None:
        """A frame of *exchange*; a reliable one (no *oseqno* given) takes the next number."""
        if timestamp is None:
            timestamp = int((time.monotonic() - exchange.started) * 1000)
        if oseqno is None:
            oseqno = exchange.oseqno
            exchange.oseqno += 1
        frame = FullFrame(callno, exchange.server_call, timestamp, oseqno, exchange.iseqno,
                          frametype, subclass, payload)
        self.sock.sendto(frame.encode(), self.target)

    def _ack(self, callno: int, exchange: _Exchange, frame: FullFrame) -> None:
        self._send(callno, exchange, FrameType.IAX, IaxSubclass.ACK,
                   timestamp=frame.timestamp, oseqno=frame.iseqno)

    def _open(self, callno: int, token: bytes) -> None:
        exchange = self.live[callno]
        exchange.oseqno = exchange.iseqno = 0  # the request is sent again from the start
        ies = self._request_ies(exchange).add(IE.CALLTOKEN, token)
        self._send(callno, exchange, FrameType.IAX, self.request, ies.encode())

    def start(self) -> None:
        callno = self.free.pop()
        self.count += 1
        self.live[callno] = _Exchange(self._name(), time.monotonic())
        self._open(callno, b"")

    def _finish(self, callno: int, ok: bool) -> None:
        if ok:
            self.done += 1
        else:
            self.refused += 1
        self._replace(callno)

    def _replace(self, callno: int) -> None:
        """End the exchange on *callno* and start another in its place (when RATE allows)."""
        del self.live[callno]
        self.free.insert(0, callno)  # reused last: a late answer finds nothing
        self.waiting += 1
        self.start_due(time.monotonic())

    def start_due(self, now: float) -> None:
        while self.waiting and self.next_start <= now:
            self.waiting -= 1
            # Not behind by more than a poll: an idle spell is not made up in a burst.
            self.next_start = max(self.next_start, now - 0.05) + self.interval
            self.start()

    def receive(self, data: bytes) -> None:
        try:
            frame = parse_datagram(data)
        except MalformedFrame:
            return
        if not isinstance(frame, FullFrame):
            return
        callno = frame.dest_call
        exchange = self.live.get(callno)
        if exchange is None:
            return
        subclass = frame.iax_subclass
        if subclass is IaxSubclass.CALLTOKEN:
            self._open(callno, frame.ies().get(IE.CALLTOKEN) or b"")
            return
        if subclass in _UNSEQUENCED:
            return
        if frame.oseqno != exchange.iseqno:
            self._ack(callno, exchange, frame)  # a repeat: our answer went missing
            return
        exchange.iseqno = (exchange.iseqno + 1) & 0xFF
        exchange.server_call = frame.source_call
        self._answer(callno, exchange, frame)

    def restart_stuck(self, now: float) -> None:
        for callno, exchange in list(self.live.items()):
            if now - exchange.started > GIVE_UP:
                self.restarted += 1
                self._replace(callno)

    def run(self, seconds: float, node_pid: int) -> dict[str, float]:
        for _ in range(self.window):
            self.start()
        poller = select.epoll()
        poller.register(self.sock.fileno(), select.EPOLLIN)
        began = time.monotonic()
        mark: tuple[float, float, int, float, tuple[float, float]] | None = None
        while (now := time.monotonic()) < began + seconds:
            if mark is None and now >= began + WARM_UP:
                mark = (now, node_cpu(node_pid), self.done, time.process_time(),
                        machine_steal())
            poller.poll(min(0.05, max(0.0, self.next_start - now)) if self.waiting else 0.05)
            while True:
                try:
                    data = self.sock.recv(2048)
                except BlockingIOError:
                    break
                self.receive(data)
            self.restart_stuck(now)
            self.start_due(time.monotonic())
        assert mark is not None, "the run is shorter than the warm-up"
        elapsed = time.monotonic() - mark[0]
        node = node_cpu(node_pid) - mark[1]
        done = self.done - mark[2]
        steal, total = (b - a for a, b in zip(mark[4], machine_steal(), strict=True))
        return {
            "done": done,
            "refused": self.refused,
            "restarted": self.restarted,
            "per_second": done / elapsed,
            "node_cpu_share": node / elapsed,
            "node_us_each": node / done * 1e6 if done else float("inf"),
            "driver_cpu_share": (time.process_time() - mark[3]) / elapsed,
            "machine_steal_share": steal / total if total else 0.0,
        }


class RegistrationDriver(_Driver):
    request = IaxSubclass.REGREQ

    def _name(self) -> str:
        return f"p{self.count % PEERS + 1}"

    def _request_ies(self, exchange: _Exchange) -> IEList:
        return IEList().add_str(IE.USERNAME, exchange.name).add_u16(IE.REFRESH, REFRESH)

    def _answer(self, callno: int, exchange: _Exchange, frame: FullFrame) -> None:
        subclass = frame.iax_subclass
        if subclass is IaxSubclass.REGAUTH:
            challenge = frame.ies().get_str(IE.CHALLENGE) or ""
            ies = (self._request_ies(exchange)
                   .add_str(IE.MD5_RESULT, md5_response(challenge, SECRET)))
            self._send(callno, exchange, FrameType.IAX, IaxSubclass.REGREQ, ies.encode())
        elif subclass in (IaxSubclass.REGACK, IaxSubclass.REGREJ):
            self._ack(callno, exchange, frame)
            self._finish(callno, ok=subclass is IaxSubclass.REGACK)
        else:
            self._ack(callno, exchange, frame)


class CallDriver(_Driver):
    request = IaxSubclass.NEW

    def _name(self) -> str:
        return USER

    def _request_ies(self, exchange: _Exchange) -> IEList:
        return (IEList().add_u16(IE.VERSION, 2).add_str(IE.CALLED_NUMBER, EXTEN)
                .add_str(IE.USERNAME, exchange.name).add_u32(IE.FORMAT, Codec.ULAW)
                .add_u32(IE.CAPABILITY, Codec.ULAW))

    def _answer(self, callno: int, exchange: _Exchange, frame: FullFrame) -> None:
        subclass = frame.iax_subclass
        if subclass is IaxSubclass.AUTHREQ:
            challenge = frame.ies().get_str(IE.CHALLENGE) or ""
            ies = IEList().add_str(IE.MD5_RESULT, md5_response(challenge, SECRET))
            self._send(callno, exchange, FrameType.IAX, IaxSubclass.AUTHREP, ies.encode())
        elif frame.frametype == FrameType.CONTROL and frame.subclass == ControlSubclass.ANSWER:
            # Voice acknowledges the ANSWER and ends Answer()'s wait for the caller's audio.
            self._send(callno, exchange, FrameType.VOICE, Codec.ULAW, _SILENCE)
        elif subclass in (IaxSubclass.HANGUP, IaxSubclass.REJECT):
            self._ack(callno, exchange, frame)
            self._finish(callno, ok=subclass is IaxSubclass.HANGUP)
        else:
            self._ack(callno, exchange, frame)  # ACCEPT, and anything else reliable


DRIVERS: dict[str, type[_Driver]] = {"register": RegistrationDriver, "calls": CallDriver}


def main(argv: list[str]) -> None:
    kind, host, port, window, seconds, pid, *rate = argv
    driver = DRIVERS[kind]((host, int(port)), int(window), float(rate[0]) if rate else 0.0)
    print(json.dumps(driver.run(float(seconds), int(pid))))


if __name__ == "__main__":
    main(sys.argv[1:])
