"""Prometheus metrics of one app: requests by route and status, latency, events appended, projection lag."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("accessledger.api")


class _StoreCollector(Collector):
    """Read at scrape time, so the numbers are right even when another process appends or projects."""

    def __init__(
        self,
        head: Callable[[], int],
        projected: Callable[[], int],
        stopped: Callable[[], dict[str, Any]] | None,
        replayed: Callable[[], int | None] | None = None,
    ) -> None:
        self.head = head
        self.projected = projected
        self.stopped = stopped
        self.replayed = replayed

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        try:
            head, projected = self.head(), self.projected()
        except Exception as exc:  # a scrape must not fail because the database is down
            log.warning("metrics: database unavailable: %s", exc)
            return
        # The store's head only grows, so it is the counter of events appended.
        yield CounterMetricFamily("accessledger_events_appended", "Events appended to the event store", value=head)
        yield GaugeMetricFamily(
            "accessledger_projection_lag_events",
            "Events stored but not yet projected by the slowest projection",
            value=max(0, head - projected),
        )
        yield GaugeMetricFamily("accessledger_projection_position", "Position every projection reached", projected)
        stopped = GaugeMetricFamily(
            "accessledger_projection_stopped",
            "1 for a projection stopped at an event it cannot apply (R-X8), with the event's position",
            labels=["projection", "position"],
        )
        for halt in (self.stopped() if self.stopped else {}).values():
            stopped.add_metric([halt.projection, str(halt.position)], 1)
        yield stopped
        replayed = self.replayed() if self.replayed else None
        if replayed is not None:  # R-Z6: what the read replica has replayed, as this process last read it
            yield GaugeMetricFamily(
                "accessledger_replica_position", "Position the read replica's projections replayed", replayed
            )
            yield GaugeMetricFamily(
                "accessledger_replica_lag_events",
                "Positions projected on the primary that the read replica has not replayed yet",
                value=max(0, projected - replayed),
            )


class Metrics:
    """One registry per app (several apps in one test process must not share counters)."""

    def __init__(
        self,
        head: Callable[[], int],
        projected: Callable[[], int],
        stopped: Callable[[], dict[str, Any]] | None = None,
        replayed: Callable[[], int | None] | None = None,
    ) -> None:
        """`replayed`: the read replica's position (None without a replica, R-Z6)."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "accessledger_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "accessledger_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.registry.register(_StoreCollector(head, projected, stopped, replayed))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
