// npm run bench:audit — audit log throughput and latency, each next to its anchor in the same run.
//   BENCH_N=1000000 (entries; the proof latency is measured at this size)
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEntryChunks } from '../src/audit/bundle.js';
import { CheckpointSigner } from '../src/audit/checkpoint.js';
import { AuditCheckpointer } from '../src/audit/checkpointer.js';
import { exportBundle } from '../src/audit/export.js';
import { inclusionProof, leafHash } from '../src/audit/merkle.js';
import { LocalEd25519Key } from '../src/audit/note.js';
import { TileNodeReader } from '../src/audit/tiles.js';
import { verifyBundle } from '../src/audit/verify.js';
import { canonicalJson } from '../src/core/action.js';
import { systemClock } from '../src/core/clock.js';
import type { AuditEvent } from '../src/core/event.js';
import { SqliteStore } from '../src/store/sqlite/index.js';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const CONCURRENCY = 2000;
const dir = mkdtempSync(join(tmpdir(), 'cs-bench-audit-'));

/** A realistic event: a submitted request with its policy decision (about 400 bytes of JSON). */
function event(i: number): AuditEvent {
  return {
    kind: 'request.submitted',
    at: 1_767_225_600_000 + i,
    requestId: `req_${i.toString(36).padStart(10, '0')}`,
    subject: { type: 'actor', id: 'act_bench' },
    details: {
      action: {
        type: 'sql.statement',
        resource: 'prod/db/orders',
        params: { sql: `DELETE FROM orders WHERE id = ${i}` },
      },
      actionHash: 'f'.repeat(64),
      decision: 'require_approval',
      rule: 'prod-writes-need-two',
      policyVersion: 'a'.repeat(64),
      principal: 'dana@example.com',
    },
  };
}

/** Runs `total` writes with `CONCURRENCY` in flight (the way many agents load the gateway). */
async function drive(total: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) await write(next++);
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const store = new SqliteStore({ path: join(dir, 'bench.db') });
  // The anchor table is the events table's twin, index included, so the ratio prices the tree.
  store.db.exec(`
    CREATE TABLE plain_events (idx INTEGER PRIMARY KEY, request_id TEXT, kind TEXT NOT NULL, at INTEGER NOT NULL, entry TEXT NOT NULL);
    CREATE INDEX plain_events_request ON plain_events (request_id) WHERE request_id IS NOT NULL;
  `);
  const plain = store.db.prepare(
    'INSERT INTO plain_events (request_id, kind, at, entry) VALUES (?, ?, ?, ?)',
  );
  const signer = new CheckpointSigner('bench.example/log', LocalEd25519Key.generate(), systemClock);
  const checkpointer = new AuditCheckpointer(store.audit, signer, systemClock, { intervalMs: 1000 });

  // Anchor: the same rows, the same group commit and fsync, no tree.
  const plainSecs = await drive(N, (i) =>
    store.writes.run(() => {
      const e = event(i);
      plain.run(e.requestId, e.kind, e.at, canonicalJson(e));
    }),
  );
  checkpointer.start();
  const auditSecs = await drive(N, (i) => store.appendEvents([event(i)]));
  await checkpointer.stop();
  const size = (await store.audit.treeHead()).size;

  const reader = new TileNodeReader(store.audit);
  const lat: number[] = [];
  for (let k = 0; k < 20_000; k++) {
    const index = Math.floor(Math.random() * size);
    const t = process.hrtime.bigint();
    await inclusionProof(reader, index, size);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);

  // Anchor for verify: reading and SHA-256 hashing the same entries file, nothing else.
  const out = join(dir, 'bundle');
  await exportBundle(store.audit, signer.verifierKey, out);
  const t0 = process.hrtime.bigint();
  let hashed = 0;
  for await (const chunk of readEntryChunks(out)) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      leafHash(chunk.subarray(start, nl));
      hashed++;
      start = nl + 1;
    }
  }
  const anchorSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (hashed !== size) throw new Error(`anchor hashed ${hashed} entries, expected ${size}`);
  const t1 = process.hrtime.bigint();
  const report = await verifyBundle(out, { key: signer.verifierKey });
  const verifySecs = Number(process.hrtime.bigint() - t1) / 1e9;
  if (!report.ok) throw new Error(`bench bundle did not verify: ${report.problem?.message}`);
  await store.close();

  const rows: [string, string, string][] = [
    ['metric', 'value', 'anchor / note'],
    ['entries', String(size), `${CONCURRENCY} concurrent writers, WAL, durability fsync (group commit)`],
    [
      'plain inserts/s',
      Math.round(N / plainSecs).toLocaleString('en'),
      'anchor: same rows, same DB, same group commit, table and index like events',
    ],
    [
      'durable audit appends/s',
      Math.round(N / auditSecs).toLocaleString('en'),
      `ratio to plain ${(plainSecs / auditSecs).toFixed(2)}x (tiles in each batch, checkpoint every 1 s)`,
    ],
    [
      'read + leaf-hash entries/s',
      Math.round(size / anchorSecs).toLocaleString('en'),
      'anchor: one thread reading and hashing the entries file, nothing else',
    ],
    [
      'verify entries/s',
      Math.round(size / verifySecs).toLocaleString('en'),
      `ratio to anchor ${(anchorSecs / verifySecs).toFixed(2)}x; ${verifySecs.toFixed(1)} s for the bundle`,
    ],
    [
      'inclusion proof p50',
      `${pct(lat, 50).toFixed(3)} ms`,
      `at ${size.toLocaleString('en')} entries, from stored tiles, 20,000 random leaves`,
    ],
    ['inclusion proof p99', `${pct(lat, 99).toFixed(3)} ms`, ''],
  ];
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  '));
  console.log(
    `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, ${new Date().toISOString()}`,
  );
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
