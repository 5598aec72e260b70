import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { ServiceMetrics } from '../service/service.js';
import type { FlushObservation } from '../store/sqlite/flush.js';

/** Prometheus metrics for /metrics. One registry per gateway so tests can run several in a process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'countersign_' });
  const submitted = new Counter({
    name: 'countersign_actions_submitted_total',
    help: 'Action requests submitted, by the status the policy gave them.',
    labelNames: ['status'],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'countersign_request_transitions_total',
    help: 'Requests that reached a state after submission.',
    labelNames: ['to'],
    registers: [registry],
  });
  const channelFailures = new Counter({
    name: 'countersign_channel_failures_total',
    help: 'Notifications a channel failed to deliver.',
    labelNames: ['channel'],
    registers: [registry],
  });
  const http = new Histogram({
    name: 'countersign_http_request_duration_seconds',
    help: 'HTTP request latency by route and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  });
  // Every durable write waits for one of these: on a lone writer the flush is most of what the
  // store adds to a request's latency, and it is the disk's figure, not Countersign's.
  const flushes = new Histogram({
    name: 'countersign_store_flush_seconds',
    help: "fdatasync of the embedded store's WAL, by the thread that ran it (event-loop or pool).",
    labelNames: ['thread'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
    registers: [registry],
  });
  const flushFailures = new Counter({
    name: 'countersign_store_flush_failures_total',
    help: 'WAL flushes that failed; the writes they covered were refused (fail closed).',
    registers: [registry],
  });
  const storeFlush = (flush: FlushObservation): void => {
    flushes.observe({ thread: flush.thread }, flush.ms / 1000);
    if (flush.failed) flushFailures.inc();
  };
  const service: ServiceMetrics = {
    submitted: (status) => submitted.inc({ status }),
    transitioned: (to) => transitions.inc({ to }),
    channelFailed: (channel) => channelFailures.inc({ channel }),
  };
  return { registry, service, http, storeFlush };
}

export type Metrics = ReturnType<typeof createMetrics>;
