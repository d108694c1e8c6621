"""What the node exposes to Prometheus, read from the services at each scrape.

Names follow Asterisk's ``res_prometheus`` where it has the metric (``asterisk_channels_*``,
``asterisk_calls_*``, ``asterisk_endpoints_*``, ``asterisk_core_*``, the outbound
registration status as its PJSIP one); the rest are ``pbxedge_*``. Every series carries
no ``eid`` label: one node is one scrape target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector

from dialplan.channel import ChannelState
from pbxedge.channels.media import MediaChannel
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.qualify import Reachability
from pbxedge.iax2.regclient import RegState
from pbxedge.iaxservice.calls import CallService
from pbxedge.iaxservice.registrations import RegistrationService

__all__ = ["RTT_BUCKETS", "NodeMetrics"]

# Asterisk's channel state numbers (AST_STATE_*), as asterisk_channels_state reports them.
_STATE_NUMBER = {ChannelState.DOWN: 0, ChannelState.RING: 4, ChannelState.RINGING: 5,
                 ChannelState.UP: 6}
# res_prometheus's endpoint states: 0 unknown, 1 offline, 2 online.
_ENDPOINT_STATE = {Reachability.ONLINE: 2, Reachability.OFFLINE: 1, Reachability.UNMONITORED: 0}
# asterisk_pjsip_outbound_registration_status: 0 unregistered, 1 registered, 2 rejected.
_REGISTRATION_STATUS = {RegState.REGISTERED: 1, RegState.REJECTED: 2, RegState.NO_AUTH: 2}
# Qualify round trips: LAN peers in single milliseconds, mobile and satellite in hundreds.
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class _Clocks:
    started_at: Callable[[], float]
    last_reload: Callable[[], float]


class _NodeCollector(Collector):
    def __init__(self, calls: CallService, registrations: RegistrationService,
                 clocks: _Clocks) -> None:
        self._calls = calls
        self._registrations = registrations
        self._clocks = clocks

    def collect(self) -> Iterable[Metric]:
        yield from self._core()
        yield from self._channels()
        yield from self._calls_metrics()
        yield from self._endpoints()
        yield from self._registrations_metrics()
        yield from self._iax2()

    def _core(self) -> Iterator[Metric]:
        now = time.time()
        yield GaugeMetricFamily("asterisk_core_uptime_seconds", "The uptime of the node.",
                                value=now - self._clocks.started_at())
        yield GaugeMetricFamily("asterisk_core_last_reload_seconds",
                                "Time since the last reload.",
                                value=now - self._clocks.last_reload())

    def _channels(self) -> Iterator[Metric]:
        channels = self._calls.channels()
        # With the node's other channels (local phones); the network figures are IAX2's.
        every: list[MediaChannel] = [channel for channel, _ in channels]
        for source in self._calls.channel_sources:
            every.extend(source.live_channels())
        yield GaugeMetricFamily("asterisk_channels_count", "Current channel count.",
                                value=len(every))
        state = GaugeMetricFamily(
            "asterisk_channels_state",
            "Individual channel states. 0=down; 4=ring; 5=ringing; 6=up.",
            labels=["name", "id", "type"])
        duration = GaugeMetricFamily("asterisk_channels_duration_seconds",
                                     "Individual channel durations (in seconds).",
                                     labels=["name", "id", "type"])
        by_state = GaugeMetricFamily("pbxedge_channels", "Channels by state.", labels=["state"])
        jitter = GaugeMetricFamily("pbxedge_call_jitter_seconds",
                                   "Interarrival jitter of the audio received, per channel.",
                                   labels=["name"])
        loss = GaugeMetricFamily("pbxedge_call_loss_ratio",
                                 "Share of the audio frames lost on the way to us, per channel.",
                                 labels=["name"])
        lost = GaugeMetricFamily("pbxedge_call_lost_frames",
                                 "Audio frames lost on the way to us, per channel.",
                                 labels=["name"])
        counts = dict.fromkeys(ChannelState, 0)
        now = time.time()
        for channel in every:
            labels = [channel.name, channel.uniqueid, channel.technology]
            counts[channel.state] += 1
            state.add_metric(labels, _STATE_NUMBER[channel.state])
            duration.add_metric(labels, int(now - channel.created_at))
        endpoint = self._calls.iax.endpoint
        for channel, callno in channels:
            try:
                report = endpoint.call_info(callno).local_rr
            except UnknownCall:
                continue  # ending: the endpoint has let it go already
            jitter.add_metric([channel.name], report.jitter / 1000)
            loss.add_metric([channel.name], report.loss_pct / 100)
            lost.add_metric([channel.name], report.loss_count)
        for value, count in counts.items():
            by_state.add_metric([value.value], count)
        yield from (state, duration, by_state, jitter, loss, lost)

    def _calls_metrics(self) -> Iterator[Metric]:
        calls = self._calls
        sources = calls.channel_sources
        # Asterisk's name exactly, which a counter type would suffix with "_total".
        total = UnknownMetricFamily("asterisk_calls_sum", "Total call count.")
        total.add_metric([], calls.processed + sum(source.processed for source in sources))
        yield total
        yield GaugeMetricFamily("asterisk_calls_count", "Current call count.",
                                value=calls.active_calls + sum(source.active_calls
                                                               for source in sources))
        started = CounterMetricFamily("pbxedge_channels_started",
                                      "IAX2 channels opened, by direction.",
                                      labels=["direction"])
        for direction in ("inbound", "outbound"):
            started.add_metric([direction], calls.started[direction])
        ended = CounterMetricFamily("pbxedge_channels_ended",
                                    "IAX2 channels closed, by hangup cause (Q.850).",
                                    labels=["cause"])
        for cause, count in sorted(calls.ended.items()):
            ended.add_metric([str(cause)], count)
        yield from (started, ended)

    def _endpoints(self) -> Iterator[Metric]:
        rows = self._registrations.peer_rows()
        on_channels: dict[str, int] = {}
        for channel, _callno in self._calls.channels():
            peer = channel.name.removeprefix("IAX2/").rpartition("-")[0]
            on_channels[peer] = on_channels.get(peer, 0) + 1
        yield GaugeMetricFamily("asterisk_endpoints_count", "Current endpoint count.",
                                value=len(rows))
        state = GaugeMetricFamily("asterisk_endpoints_state",
                                  "Individual endpoint states. 0=unknown; 1=offline; 2=online.",
                                  labels=["id", "tech", "resource"])
        channels = GaugeMetricFamily(
            "asterisk_endpoints_channels_count",
            "Count of the number of channels currently existing that are associated with "
            "the endpoint.", labels=["id", "tech", "resource"])
        statuses = GaugeMetricFamily("pbxedge_peers", "IAX2 peers by qualify status.",
                                     labels=["status"])
        rtt = GaugeMetricFamily("pbxedge_peer_rtt_seconds",
                                "The last qualify round trip of each peer.", labels=["peer"])
        counts: dict[str, int] = {}
        qualify = self._registrations.qualify
        for row in rows:
            labels = [f"IAX2/{row.name}", "IAX2", row.name]
            state.add_metric(labels, _ENDPOINT_STATE[row.status.reachability])
            channels.add_metric(labels, on_channels.get(row.name, 0))
            status = row.status.text.partition(" ")[0]  # "OK (3 ms)" -> "OK"
            counts[status] = counts.get(status, 0) + 1
            if (lastms := qualify.lastms(row.name)) > 0:
                rtt.add_metric([row.name], lastms / 1000)
        for status, count in sorted(counts.items()):
            statuses.add_metric([status], count)
        yield from (state, channels, statuses, rtt)

    def _registrations_metrics(self) -> Iterator[Metric]:
        registrations = self._registrations
        inbound = GaugeMetricFamily("pbxedge_registrations",
                                    "Dynamic peers registered to this node.",
                                    value=registrations.registrar.count())
        status = GaugeMetricFamily(
            "asterisk_iax2_outbound_registration_status",
            "Current registration status. 0=Unregistered; 1=Registered; 2=Rejected.",
            labels=["username", "domain", "channel_type"])
        by_state = GaugeMetricFamily("pbxedge_outbound_registrations",
                                     "register => lines by state.", labels=["state"])
        counts = dict.fromkeys(RegState, 0)
        for line in registrations.outbound.lines:
            row = line.client.registry_row()
            counts[row.state] += 1
            domain = f"{line.config.host}:{line.config.port}"
            status.add_metric([row.username, domain, "IAX2"],
                              _REGISTRATION_STATUS.get(row.state, 0))
        for value, count in counts.items():
            by_state.add_metric([value.value], count)
        yield from (inbound, status, by_state)

    def _iax2(self) -> Iterator[Metric]:
        iax = self._calls.iax
        stats = iax.transport.stats
        reliability = iax.endpoint.reliability
        for name, help_text, value in (
                ("pbxedge_iax2_datagrams_received", "UDP datagrams received.",
                 stats.datagrams_received),
                ("pbxedge_iax2_datagrams_sent", "UDP datagrams sent.", stats.datagrams_sent),
                ("pbxedge_iax2_frames_retransmitted", "Full frames sent again.",
                 reliability.retransmitted),
                ("pbxedge_iax2_vnaks_sent", "VNAKs sent (frames asked for again).",
                 reliability.vnaks_sent),
                ("pbxedge_iax2_vnaks_received", "VNAKs received.", reliability.vnaks_received),
                ("pbxedge_iax2_datagrams_malformed", "Datagrams that were no IAX2 frame.",
                 iax.endpoint.stats.malformed)):
            yield CounterMetricFamily(name, help_text, value=value)
        rejects = CounterMetricFamily("pbxedge_iax2_rejects",
                                      "REJECTs and REGREJs sent, by cause.", labels=["cause"])
        for cause, count in sorted(iax.rejects.items()):
            rejects.add_metric([cause], count)
        yield rejects
        usage = iax.pool.usage(now=iax.now())
        available = GaugeMetricFamily("pbxedge_iax2_callnumbers_available",
                                      "Call numbers free to use.", labels=["pool"])
        available.add_metric(["regular"], usage.regular_available)
        available.add_metric(["trunk"], usage.trunk_available)
        yield available
        yield GaugeMetricFamily("pbxedge_iax2_callnumbers_nonvalidated",
                                "Call numbers held by peers without a call token.",
                                value=usage.nonvalidated_used)
        yield GaugeMetricFamily("pbxedge_iax2_callnumbers_nonvalidated_limit",
                                "maxcallnumbers_nonvalidated.", value=usage.nonvalidated_limit)
        yield GaugeMetricFamily("pbxedge_iax2_calls", "IAX2 calls the endpoint holds "
                                "(calls, registrations, pokes).", value=len(iax.endpoint.calls()))


class NodeMetrics:
    """The node's metrics registry: its own collector, the process's CPU and memory, the
    qualify RTT histogram, and whatever other layers add to :attr:`registry`."""

    def __init__(self, calls: CallService, registrations: RegistrationService, *,
                 started_at: Callable[[], float], last_reload: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_NodeCollector(calls, registrations,
                                              _Clocks(started_at, last_reload)))
        ProcessCollector(registry=self.registry)
        self.rtt = Histogram("pbxedge_qualify_rtt_seconds", "Qualify round trips of the peers.",
                             buckets=RTT_BUCKETS, registry=self.registry)
        registrations.qualify.rtt_listeners.append(
            lambda peer, ms: self.rtt.observe(ms / 1000))
