import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../core/action.js';
import { CursorFile, type EntrySource, exportOnce } from './exporter.js';
import { otlpExporter } from './otlp.js';

interface OtlpLogRecord {
  eventName?: string;
  attributes: { key: string; value: { intValue?: string | number; stringValue?: string } }[];
}

/** An OTLP/HTTP logs receiver on loopback that decodes the JSON encoding of ExportLogsServiceRequest. */
function receiver(port = 0): Promise<{ server: Server; records: OtlpLogRecord[]; port: number }> {
  const records: OtlpLogRecord[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/logs') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rl of body.resourceLogs) for (const sl of rl.scopeLogs) records.push(...sl.logRecords);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({ server, records, port: (server.address() as AddressInfo).port }),
    ),
  );
}

const source = (n: number): EntrySource => ({
  async readEntries(from, limit) {
    const out = [];
    for (let i = from; i < Math.min(n, from + limit); i++) {
      out.push({
        index: i,
        entry: canonicalJson({
          kind: 'request.approved',
          at: Date.UTC(2026, 0, 1) + i,
          requestId: `req_${i}`,
          subject: { type: 'reviewer', id: 'alice' },
          details: {},
        }),
      });
    }
    return out;
  },
});

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const attr = (r: OtlpLogRecord, k: string) => r.attributes.find((a) => a.key === k)?.value;

describe('OTLP/HTTP exporter (official OpenTelemetry JS SDK)', () => {
  it('delivers log records with event names, index and leaf hash; a collector outage loses nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-otlp-'));
    dirs.push(dir);
    const cursors = new CursorFile(join(dir, 'cursors.json'));
    const first = await receiver();
    const url = `http://127.0.0.1:${first.port}/v1/logs`;
    const exp = otlpExporter(url, { timeoutMillis: 2000 });
    expect(await exportOnce(source(10), exp, cursors, 4)).toBe(10);
    await new Promise((r) => first.server.close(r));

    await expect(exportOnce(source(25), exp, cursors, 4)).rejects.toThrow();
    expect(await cursors.get(exp.name)).toBe(10);

    const second = await receiver(first.port);
    expect(await exportOnce(source(25), exp, cursors, 4)).toBe(15);
    await exp.close?.();
    await new Promise((r) => second.server.close(r));

    const all = [...first.records, ...second.records];
    const indexes = new Set(all.map((r) => Number(attr(r, 'countersign.log.index')?.intValue)));
    expect([...indexes].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(all[0]!.eventName).toBe('countersign.request.approved');
    expect(attr(all[0]!, 'countersign.log.leaf_hash')?.stringValue).toMatch(/^[0-9a-f]{64}$/);
  });
});
