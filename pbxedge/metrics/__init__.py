"""Prometheus metrics of a running node (``[general] metrics = 127.0.0.1:9099`` in iax.conf).

:mod:`.collector` reads the services' state when Prometheus scrapes, so nothing is counted
twice and the audio paths pay nothing; :mod:`.server` answers the scrapes over HTTP inside
the node's trio loop. Other layers add their own metrics to :attr:`NodeMetrics.registry`
(any ``prometheus_client`` collector, or a ``Gauge(..., registry=metrics.registry)``).
"""
