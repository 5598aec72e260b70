import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startGateway, writeConfig } from './support/gateway.js';
import { serve } from './support/process.js';

describe('crash safety', () => {
  it('keeps every acknowledged request, with its audit event, after the process is killed mid-load', async () => {
    const { configFile } = writeConfig();
    const setup = await startGateway({ configFile });
    const agent = setup.agent;
    await setup.close();

    const a = await serve(configFile);
    const acknowledged: string[] = [];
    const inFlight: Array<Promise<void>> = [];
    let sent = 0;
    const send = () => {
      const i = sent++;
      inFlight.push(
        fetch(`${a.url}/v1/actions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 's3.read', resource: `bucket/${i}`, justification: 'crash test' }),
        })
          .then(async (r) => {
            if (r.status === 201) acknowledged.push(((await r.json()) as { id: string }).id);
          })
          .catch(() => undefined),
      );
    };
    // Keep 40 requests in flight; once 100 are acknowledged, kill the process while the rest are
    // being parsed, committed and synced.
    while (acknowledged.length < 100) {
      while (sent - acknowledged.length < 40) send();
      await new Promise((r) => setImmediate(r));
    }
    a.proc.kill('SIGKILL');
    await Promise.all(inFlight);
    if (a.proc.exitCode === null && a.proc.signalCode === null) await once(a.proc, 'exit');
    expect(acknowledged.length).toBeGreaterThan(0);

    const after = await startGateway({ configFile });
    try {
      for (const id of acknowledged) {
        const snap = await after.gw.store.getRequest(id);
        expect(snap?.request.status).toBe('allowed');
        expect((await after.gw.store.eventsForRequest(id)).map((e) => e.kind)).toEqual(['request.submitted']);
      }
      const all = await after.gw.store.readEvents(0, 100_000);
      expect(all.map((e) => e.index)).toEqual(all.map((_, i) => i));
    } finally {
      await after.close();
    }
  });
});
