import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('store flush metrics', () => {
  it('records each flush in seconds by thread, and counts the failed ones', async () => {
    const m = createMetrics();
    m.storeFlush({ ms: 0.4, thread: 'event-loop', failed: false });
    m.storeFlush({ ms: 3, thread: 'pool', failed: true });
    const text = await m.registry.metrics();
    expect(text).toContain('countersign_store_flush_seconds_bucket{le="0.0005",thread="event-loop"} 1');
    expect(text).toContain('countersign_store_flush_seconds_bucket{le="0.0025",thread="pool"} 0');
    expect(text).toContain('countersign_store_flush_seconds_bucket{le="0.005",thread="pool"} 1');
    expect(text).toContain('countersign_store_flush_seconds_sum{thread="pool"} 0.003');
    expect(text).toContain('countersign_store_flush_failures_total 1');
  });
});
