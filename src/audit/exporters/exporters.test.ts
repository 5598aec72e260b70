import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../core/action.js';
import type { AuditEvent } from '../../core/event.js';
import { leafHash } from '../merkle.js';
import { CursorFile, type EntrySource, exportOnce, toRecord } from './exporter.js';
import { jsonlExporter } from './jsonl.js';
import { ocsfApiActivity } from './ocsf.js';
import { parseSyslogUrl, syslogExporter, syslogMessage } from './syslog.js';
import { displayTarget } from './targets.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir() {
  const d = await mkdtemp(join(tmpdir(), 'cs-exporters-'));
  dirs.push(d);
  return d;
}

const event = (i: number): AuditEvent => ({
  kind: i % 2 ? 'request.approved' : 'request.submitted',
  at: Date.UTC(2026, 0, 1) + i,
  requestId: `req_${i}`,
  subject: { type: 'actor', id: 'bot' },
  details: { action: { type: 'exec.command', resource: 'host/a', params: { n: i } } },
});

class Source implements EntrySource {
  entries: string[] = [];
  add(n: number) {
    const from = this.entries.length;
    for (let i = from; i < from + n; i++) this.entries.push(canonicalJson(event(i)));
  }
  async readEntries(from: number, limit: number) {
    return this.entries.slice(from, from + limit).map((entry, i) => ({ index: from + i, entry }));
  }
}

/** A syslog receiver speaking RFC 6587 octet counting, on loopback. */
function tcpReceiver(port = 0): Promise<{ server: Server; got: string[]; port: number }> {
  const got: string[] = [];
  const server = createServer((s: Socket) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) return;
        const len = Number(buf.subarray(0, sp).toString());
        if (buf.length < sp + 1 + len) return;
        got.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
        buf = buf.subarray(sp + 1 + len);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({ server, got, port: (server.address() as AddressInfo).port }),
    ),
  );
}

const indexOf = (m: string) => Number(/index="(\d+)"/.exec(m)![1]);

describe('exporters', () => {
  it('JSON lines: rotates, persists its cursor, resumes where it stopped', async () => {
    const dir = await tempDir();
    const src = new Source();
    src.add(30);
    const cursors = new CursorFile(join(dir, 'cursors.json'));
    const file = join(dir, 'audit.jsonl');
    const exp = jsonlExporter(file, { maxBytes: 2000 });
    expect(await exportOnce(src, exp, cursors, 10)).toBe(30);
    expect(await exportOnce(src, exp, cursors, 10)).toBe(0);
    src.add(5);
    expect(await exportOnce(src, exp, cursors, 10)).toBe(5);
    const files = (await readdir(dir)).filter((f) => f.startsWith('audit.jsonl')).sort();
    expect(files.length).toBeGreaterThan(1);
    const lines = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8'))))
      .join('')
      .trim()
      .split('\n');
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.map((p) => p.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(parsed[0].leafHash).toBe(leafHash(src.entries[parsed[0].index]!).toString('hex'));
    expect(await cursors.get(exp.name)).toBe(35);
  });

  it('syslog over TCP: the sink goes down, nothing is lost when it comes back', async () => {
    const dir = await tempDir();
    const src = new Source();
    src.add(20);
    const cursors = new CursorFile(join(dir, 'cursors.json'));
    const first = await tcpReceiver();
    const exp = syslogExporter({ transport: 'tcp', host: '127.0.0.1', port: first.port });
    expect(await exportOnce(src, exp, cursors, 7)).toBe(20);
    await exp.close?.();
    await new Promise((r) => first.server.close(r));

    src.add(15);
    const down = syslogExporter({ transport: 'tcp', host: '127.0.0.1', port: first.port });
    await expect(exportOnce(src, down, cursors, 7)).rejects.toThrow();
    expect(await cursors.get(down.name)).toBe(20);

    const second = await tcpReceiver(first.port);
    expect(await exportOnce(src, down, cursors, 7)).toBe(15);
    await down.close?.();
    // Wait for delivery (bounded), never for a fixed time.
    const all = () => new Set([...first.got, ...second.got].map(indexOf));
    for (let i = 0; i < 500 && all().size < 35; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => second.server.close(r));
    const indexes = [...first.got, ...second.got].map(indexOf);
    expect([...new Set(indexes)].sort((a, b) => a - b)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(first.got[0]).toMatch(
      /^<110>1 2026-01-01T00:00:00\.000Z \S+ countersign \d+ request\.submitted \[countersign@32473 index="0" leafHash="[0-9a-f]{64}" requestId="req_0"\] \uFEFF\{/,
    );
  });

  it('syslog over TLS checks the receiver certificate and delivers', async () => {
    const dir = await tempDir();
    // A throwaway CA-less self-signed certificate for 127.0.0.1, made with the system openssl.
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const got: string[] = [];
    const server = createTlsServer(
      { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
      (s) => s.on('data', (d: Buffer) => got.push(d.toString('utf8'))),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const src = new Source();
    src.add(4);
    const cursors = new CursorFile(join(dir, 'c.json'));
    // Without the CA the certificate is refused and nothing is marked sent.
    const untrusted = syslogExporter(parseSyslogUrl(`syslog+tls://127.0.0.1:${port}`));
    await expect(exportOnce(src, untrusted, cursors)).rejects.toThrow();
    expect(await cursors.get(untrusted.name)).toBe(0);
    const trusted = syslogExporter(
      parseSyslogUrl(`syslog+tls://127.0.0.1:${port}?ca=${join(dir, 'cert.pem')}`),
      untrusted.name,
    );
    expect(await exportOnce(src, trusted, cursors)).toBe(4);
    for (let i = 0; i < 500 && (got.join('').match(/index="/g) ?? []).length < 4; i++)
      await new Promise((r) => setTimeout(r, 10));
    await trusted.close?.();
    server.close();
    expect(got.join('').match(/index="\d+"/g)).toEqual(['index="0"', 'index="1"', 'index="2"', 'index="3"']);
  });

  it('syslog over UDP reaches a listener on loopback', async () => {
    const sock = createSocket('udp4');
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const port = sock.address().port;
    const src = new Source();
    src.add(3);
    const dir = await tempDir();
    await exportOnce(
      src,
      syslogExporter({ transport: 'udp', host: '127.0.0.1', port }),
      new CursorFile(join(dir, 'c.json')),
    );
    for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    sock.close();
    expect(got.map(indexOf).sort()).toEqual([0, 1, 2]);
  });

  it('OCSF API Activity mapping keeps index, leaf hash and the whole event', () => {
    const r = toRecord({ index: 7, entry: canonicalJson(event(0)) });
    const o = ocsfApiActivity(r);
    expect(o).toMatchObject({
      class_uid: 6003,
      activity_id: 1,
      type_uid: 600301,
      status_id: 1,
      time: Date.UTC(2026, 0, 1),
    });
    expect(o.unmapped).toMatchObject({ index: 7, leafHash: r.leafHash });
    expect(syslogMessage(r, 'h').startsWith('<110>1 ')).toBe(true);
  });

  it('OCSF reports refusals (a refused vote, a refused login) as failures', () => {
    const status = (kind: AuditEvent['kind']) =>
      ocsfApiActivity(toRecord({ index: 0, entry: canonicalJson({ ...event(0), kind }) })).status_id;
    expect(status('review.refused')).toBe(2);
    expect(status('reviewer.login_refused')).toBe(2);
    expect(status('review.cast')).toBe(1);
  });
});

describe('displayTarget', () => {
  it('masks credentials and query values of a sink URL, and leaves a plain one as it is', () => {
    expect(
      displayTarget('otlp:http://user:s3cret@127.0.0.1:4318/v1/logs?token=t0k&x=1: connect ECONNREFUSED'),
    ).toBe('otlp:http://***:***@127.0.0.1:4318/v1/logs?token=***&x=***: connect ECONNREFUSED');
    expect(displayTarget('otlp:http://127.0.0.1:4318/v1/logs')).toBe('otlp:http://127.0.0.1:4318/v1/logs');
    expect(displayTarget('jsonl:/var/log/audit.jsonl')).toBe('jsonl:/var/log/audit.jsonl');
  });
});
