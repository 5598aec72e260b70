import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditCheckpointer } from '../../src/audit/checkpointer.js';
import { exportBundle } from '../../src/audit/export.js';
import { logSigner } from '../../src/audit/log.js';
import { verifyBundle } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { createGateway } from '../../src/server/gateway.js';
import { loadOrCreateSigningKey } from '../../src/server/keys.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { serve } from '../support/process.js';
import { callsIn, here, httpFixture } from './harness.js';

/** The `text` argument of every echo call the upstream received. */
const received = (log: string): string[] =>
  callsIn(log)
    .filter((c) => c.name === 'echo')
    .map((c) => c.args.text as string);

describe('MCP gateway crash safety', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  // Decision 0014: an allowed call is forwarded once its record is committed, while the record is
  // flushed. Killing the process at any moment, including between the forward and the flush, must
  // never leave a call that reached the upstream without its record and audit event.
  it('keeps the record of every call that reached the upstream after the gateway is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-mcp-crash-'));
    const log = join(dir, 'calls.jsonl');
    const upstream = await httpFixture(log);
    children.push(upstream.child);
    const configFile = join(dir, 'countersign.yaml');
    writeFileSync(
      configFile,
      `server: { host: 127.0.0.1, port: 0, logLevel: silent }
dataDir: ./data
policy: { files: [${JSON.stringify(join(here, 'policy.yaml'))}] }
mcp:
  upstreams:
    remote: { url: ${JSON.stringify(upstream.url)} }
`,
    );
    const setup = await createGateway(loadConfig(configFile, {}));
    const { token } = await setup.admin.createActor({ name: 'crash-agent', owner: 'dev@example.com' });
    await setup.close();

    const a = await serve(configFile);
    children.push(a.proc);
    const clients = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const client = new Client({ name: 'crash-agent', version: '1.0.0' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL('/mcp/remote', a.url), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          }),
        );
        return client;
      }),
    );
    let sent = 0;
    let answered = 0;
    // Every client keeps one call in flight until the process dies under it.
    const loops = clients.map(async (client) => {
      for (;;) {
        const text = `call-${sent++}`;
        try {
          await client.callTool({ name: 'echo', arguments: { text } });
          answered++;
        } catch {
          return;
        }
      }
    });
    while (answered < 150) await new Promise((r) => setTimeout(r, 5));
    a.proc.kill('SIGKILL');
    if (a.proc.exitCode === null && a.proc.signalCode === null) await once(a.proc, 'exit');
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.close().catch(() => {})));

    const reached = received(log);
    // Calls were in flight when the process died; each that got through counts.
    expect(reached.length).toBeGreaterThanOrEqual(answered);
    const store = new SqliteStore({ path: join(dir, 'data', 'countersign.db') });
    try {
      const requests = await store.listRequests({ limit: 100_000 });
      const byText = new Map(
        requests
          .filter((r) => r.action.type === 'mcp.tools.call')
          .map((r) => [(r.action.params as { text: string }).text, r]),
      );
      for (const text of reached) {
        const r = byText.get(text);
        expect(r, `the upstream ran ${text}, which has no record`).toBeDefined();
        expect(r?.action.resource).toBe('remote/echo');
        expect(['allowed', 'executed']).toContain(r?.status);
        const kinds = (await store.eventsForRequest(r?.id as string)).map((e) => e.kind);
        expect(kinds[0]).toBe('request.submitted');
      }
      // The log is whole: no gap in the events, every event in the tree, and a bundle verifies.
      const events = await store.readEvents(0, 100_000);
      expect(events.map((e) => e.index)).toEqual(events.map((_, i) => i));
      expect((await store.audit.treeHead()).size).toBe(events.length);
      // Verified with the gateway's own key, as an auditor would: its checkpoints are in the log.
      const config = loadConfig(configFile, {});
      const signer = logSigner(
        loadOrCreateSigningKey(config.audit.signingKeyFile).privateKey,
        systemClock,
        config.audit.origin ?? undefined,
        config.audit.signingKeyFile,
      );
      await new AuditCheckpointer(store.audit, signer, systemClock).checkpoint();
      await exportBundle(store.audit, signer.verifierKey, join(dir, 'bundle'));
      expect(await verifyBundle(join(dir, 'bundle'), { key: signer.verifierKey })).toMatchObject({
        ok: true,
        entries: events.length,
      });
    } finally {
      await store.close();
    }
  });
});
