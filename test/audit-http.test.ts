import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logKeyFrom, openCheckpoint } from '../src/audit/checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../src/audit/merkle.js';
import { loadConfig } from '../src/config/load.js';
import { createGateway, type Gateway } from '../src/server/gateway.js';

let dir: string;
let gw: Gateway;
let url: string;
let reviewerToken: string;
let agentKey: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-audit-http-'));
  const file = join(dir, 'countersign.yaml');
  await writeFile(file, 'dataDir: ./data\ndev: true\nserver:\n  logLevel: silent\n');
  gw = await createGateway(loadConfig(file, {}));
  url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  reviewerToken = gw.dev!.reviewers['alice@example.com']!;
  agentKey = gw.dev!.agent;
});
afterAll(async () => {
  await gw.close();
  await rm(dir, { recursive: true, force: true });
});

const get = async (path: string, token?: string) => {
  const res = await fetch(`${url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};

describe('audit HTTP API', () => {
  it('serves a signed checkpoint, entries, and proofs that verify against it', async () => {
    const submitted = await fetch(`${url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'exec.command',
        resource: 'host/a',
        params: { cmd: 'ls' },
        justification: 'test',
      }),
    });
    expect(submitted.status).toBe(201);
    await gw.checkpointer.checkpoint();

    const { verifierKey } = JSON.parse((await get('/v1/audit/key')).text);
    const cpRes = await get('/v1/audit/checkpoint');
    expect(cpRes.type).toMatch(/^text\/plain/);
    const cp = openCheckpoint(cpRes.text, logKeyFrom(verifierKey)).checkpoint;
    expect(cp.size).toBeGreaterThanOrEqual(2);

    expect((await get('/v1/audit/entries')).status).toBe(401);
    expect((await get('/v1/audit/entries', agentKey)).status).toBe(403);
    const entries = JSON.parse(
      (await get(`/v1/audit/entries?start=0&limit=${cp.size}`, reviewerToken)).text,
    ).items;
    expect(entries.some((e: { entry: string }) => e.entry.includes('request.submitted'))).toBe(true);

    const last = cp.size - 1;
    const inc = JSON.parse((await get(`/v1/audit/proof/inclusion?index=${last}`)).text);
    const proof = inc.proof.map((p: string) => Buffer.from(p, 'base64'));
    expect(verifyInclusion(last, cp.size, leafHash(entries[last].entry), proof, cp.root)).toBe(true);

    const cons = JSON.parse((await get(`/v1/audit/proof/consistency?from=1&to=${cp.size}`)).text);
    expect(cons.proof.length).toBeGreaterThan(0);
    const first = leafHash(entries[0].entry);
    const cproof = cons.proof.map((p: string) => Buffer.from(p, 'base64'));
    expect(verifyConsistency(1, cp.size, cproof, first, cp.root)).toBe(true);
  });

  it('explains a proof request outside the signed tree', async () => {
    const r = await get('/v1/audit/proof/inclusion?index=999999');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).detail).toMatch(/not in a tree of size/);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = JSON.parse((await get('/v1/openapi.json')).text);
    for (const p of [
      '/v1/audit/checkpoint',
      '/v1/audit/entries',
      '/v1/audit/proof/inclusion',
      '/v1/audit/proof/consistency',
    ]) {
      expect(doc.paths[p]).toBeDefined();
    }
  });
});

describe('shutdown', () => {
  it('signs a final checkpoint covering every committed entry', async () => {
    const d = await mkdtemp(join(tmpdir(), 'cs-audit-close-'));
    const file = join(d, 'countersign.yaml');
    await writeFile(file, 'dataDir: ./data\ndev: true\nserver:\n  logLevel: silent\n');
    const g = await createGateway(loadConfig(file, {}));
    await g.app.ready();
    const writes = Array.from({ length: 20 }, (_, i) =>
      g.admin.createActor({ name: `bot${i}`, owner: 'o@example.com', expiresAt: null, allowedTypes: null }),
    );
    await Promise.all(writes);
    const store = g.store;
    await g.close();
    const { SqliteStore } = await import('../src/store/sqlite/index.js');
    const reopened = new SqliteStore({ path: store.db.name });
    const latest = await reopened.audit.latestCheckpoint();
    expect(latest?.size).toBe((await reopened.audit.treeHead()).size);
    await reopened.close();
    await rm(d, { recursive: true, force: true });
  });
});
