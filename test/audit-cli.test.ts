import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointSigner } from '../src/audit/checkpoint.js';
import { AuditCheckpointer } from '../src/audit/checkpointer.js';
import { exportBundle } from '../src/audit/export.js';
import { LocalEd25519Key } from '../src/audit/note.js';
import { verifyBundle } from '../src/audit/verify.js';
import { systemClock } from '../src/core/clock.js';
import { SqliteStore } from '../src/store/sqlite/index.js';

const root = resolve(import.meta.dirname, '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const main = join(root, 'src', 'cli', 'main.ts');
let dir: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(tsx, [main, ...args], { cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-audit-cli-'));
  expect((await cli('init')).code).toBe(0);
  expect(
    (await cli('actors', 'create', '--name', 'bot', '--owner', 'o@example.com', '-c', 'countersign.yaml'))
      .code,
  ).toBe(0);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('countersign audit (CLI)', () => {
  it('exports a bundle that verifies with the printed key, and names a tampered entry with exit 1', async () => {
    const key = (await cli('audit', 'key', '-c', 'countersign.yaml')).stdout.trim();
    expect(key).toMatch(/^countersign\.local\/[0-9a-f]{16}\+[0-9a-f]{8}\+/);
    const exported = await cli('audit', 'export', '--out', 'bundle', '-c', 'countersign.yaml', '--json');
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout).size).toBeGreaterThan(0);

    const ok = await cli('audit', 'verify', 'bundle', '--key', key);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toMatch(/^OK: /);

    const entries = join(dir, 'bundle', 'entries.jsonl');
    await writeFile(entries, (await readFile(entries, 'utf8')).replace('"bot"', '"b0t"'));
    const bad = await cli('audit', 'verify', 'bundle', '--key', key, '--json');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problem).toMatchObject({ code: 'entry', index: 0 });

    const usage = await cli('audit', 'verify', 'bundle', '--key', 'not-a-key');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/malformed/);
    // A script that asked for JSON gets JSON on failure too, with the same exit code.
    const usageJson = await cli('audit', 'verify', 'bundle', '--key', 'not-a-key', '--json');
    expect(usageJson.code).toBe(2);
    expect(JSON.parse(usageJson.stdout)).toEqual({
      ok: false,
      error: { code: 'usage', message: expect.stringMatching(/malformed/), where: '--key' },
    });
  });

  it('prints a receipt that verifies offline, and fails on an edited one', async () => {
    const key = (await cli('audit', 'key', '-c', 'countersign.yaml')).stdout.trim();
    expect((await cli('audit', 'receipt', '0', '--out', 'r.tlog-proof', '-c', 'countersign.yaml')).code).toBe(
      0,
    );
    const text = await readFile(join(dir, 'r.tlog-proof'), 'utf8');
    expect(text.startsWith('c2sp.org/tlog-proof@v1\nextra ')).toBe(true);
    expect((await cli('audit', 'verify-receipt', 'r.tlog-proof', '--key', key)).code).toBe(0);
    await writeFile(join(dir, 'r2.tlog-proof'), text.replace(/^index 0$/m, 'index 1'));
    expect((await cli('audit', 'verify-receipt', 'r2.tlog-proof', '--key', key)).code).toBe(1);
    const failedJson = await cli('audit', 'verify-receipt', 'r2.tlog-proof', '--key', key, '--json');
    expect(failedJson.code).toBe(1);
    expect(JSON.parse(failedJson.stdout)).toEqual({
      ok: false,
      error: { code: 'verification_failed', message: expect.any(String), where: 'r2.tlog-proof' },
    });
    const noEntry = await cli('audit', 'receipt', '999999', '-c', 'countersign.yaml');
    expect(noEntry.code).toBe(5);
    expect(noEntry.stderr).toMatch(/^error: entry 999999 does not exist: the log has \d+ entries/);
    const badKey = await cli('audit', 'verify-receipt', 'r.tlog-proof', '--key', 'not-a-key');
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/^error: verifier key "not-a-key" is malformed/);
  });

  it('shows the trail of one request with every event proven included', async () => {
    const store = new SqliteStore({ path: join(dir, '.countersign', 'countersign.db') });
    const at = Date.UTC(2026, 0, 1);
    const subject = { type: 'actor' as const, id: 'bot' };
    await store.appendEvents([
      {
        kind: 'request.submitted',
        at,
        requestId: 'req_trail',
        subject,
        details: { decision: 'require_approval' },
      },
      { kind: 'actor.created', at, requestId: null, subject, details: {} },
      { kind: 'request.approved', at: at + 1, requestId: 'req_trail', subject, details: {} },
    ]);
    await store.close();
    const r = await cli('audit', 'trail', 'req_trail', '-c', 'countersign.yaml', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.map((x: { kind: string }) => x.kind)).toEqual(['request.submitted', 'request.approved']);
    expect(rows[0].receipt).toMatch(/^c2sp\.org\/tlog-proof@v1/);
    // Not found is 5, as for `countersign requests show` against the gateway (docs/cli.md).
    const none = await cli('audit', 'trail', 'req_none', '-c', 'countersign.yaml');
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/^error: no audit events for request req_none; check the id/);
  });

  it('ships entries to a JSON lines file and resumes from its cursor', async () => {
    const r = await cli(
      'audit',
      'ship',
      '--to',
      'jsonl:out.jsonl',
      '--to',
      'ocsf:ocsf.jsonl',
      '--state',
      'cur.json',
      '-c',
      'countersign.yaml',
    );
    expect(r.code).toBe(0);
    const lines = (await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ index: 0 });
    expect(JSON.parse((await readFile(join(dir, 'ocsf.jsonl'), 'utf8')).split('\n')[0]!)).toMatchObject({
      class_uid: 6003,
    });
    const again = await cli(
      'audit',
      'ship',
      '--to',
      'jsonl:out.jsonl',
      '--state',
      'cur.json',
      '-c',
      'countersign.yaml',
    );
    expect(again.stderr).toBe('');
    expect((await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(lines.length);
    expect((await cli('audit', 'ship', '--to', 'ftp://x', '-c', 'countersign.yaml')).code).toBe(2);
  });

  it('refuses to rotate the key while a gateway signs with it', async () => {
    const loader = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const gateway = spawn(process.execPath, ['--import', loader, main, 'serve', '-c', 'countersign.yaml'], {
      cwd: dir,
      env: { ...process.env, COUNTERSIGN__SERVER__PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      for await (const chunk of gateway.stdout!) {
        out += chunk;
        if (out.includes('listening on')) break;
      }
      const keyBefore = (await cli('audit', 'key', '-c', 'countersign.yaml')).stdout;
      const r = await cli('audit', 'rotate-key', '-c', 'countersign.yaml');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`a gateway (pid ${gateway.pid}) is signing with`);
      expect((await cli('audit', 'key', '-c', 'countersign.yaml')).stdout).toBe(keyBefore);
    } finally {
      gateway.kill('SIGTERM');
      await new Promise((r) => gateway.once('exit', r));
    }
    // A gateway that stopped cleanly takes its mark with it.
    await expect(readFile(join(dir, '.countersign', 'audit-signing.key.in-use'), 'utf8')).rejects.toThrow();
  });

  it('rotates the key: same origin, new key, and a bundle the old key still verifies', async () => {
    const oldKey = (await cli('audit', 'key', '-c', 'countersign.yaml')).stdout.trim();
    const r = await cli('audit', 'rotate-key', '-c', 'countersign.yaml', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.previousKey).toBe(oldKey);
    const newKey = (await cli('audit', 'key', '-c', 'countersign.yaml')).stdout.trim();
    expect(newKey).toBe(out.newKey);
    expect(newKey.split('+')[0]).toBe(oldKey.split('+')[0]);
    const exported = await cli('audit', 'export', '--out', 'rotated', '-c', 'countersign.yaml');
    expect(exported.code).toBe(0);
    // `$(countersign audit key)` would now name the new key, which cannot vouch for older checkpoints.
    expect(exported.stdout).toContain(
      'this log rotated its signing key: verify with the key you trusted before',
    );
    expect((await cli('audit', 'verify', 'rotated', '--key', oldKey)).stdout).toMatch(/^OK: /);
  });

  it('names a checkpoint deleted from the middle of an exported bundle, with exit 1', async () => {
    const store = new SqliteStore({ path: join(dir, 'chain.db') });
    const signer = new CheckpointSigner('chain.example/log', LocalEd25519Key.generate(), systemClock);
    const checkpointer = new AuditCheckpointer(store.audit, signer, systemClock);
    for (let batch = 0; batch < 3; batch++) {
      await store.appendEvents([
        {
          kind: 'actor.created',
          at: batch,
          requestId: null,
          subject: { type: 'system', id: 't' },
          details: {},
        },
      ]);
      await checkpointer.checkpoint();
    }
    await exportBundle(store.audit, signer.verifierKey, join(dir, 'chained'));
    await store.close();
    const verify = () => cli('audit', 'verify', 'chained', '--key', signer.verifierKey, '--json');
    expect((await verify()).code).toBe(0);
    await unlink(join(dir, 'chained', 'checkpoints', '0000000002'));
    const r = await verify();
    expect(r.code).toBe(1);
    const { problem } = JSON.parse(r.stdout);
    expect(problem).toMatchObject({ code: 'chain', path: 'checkpoints/0000000003' });
    expect(problem.message).toMatch(/checkpoint 2 is missing/);
  });

  /** Runs each case at once and expects exit 2 with exactly that one line on stderr. */
  async function expectUsage(cases: Array<[string[], string]>): Promise<void> {
    const results = await Promise.all(cases.map(([args]) => cli(...args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code: 2,
        stderr: `error: ${message}\n`,
      });
    });
  }

  it('says which path given to verify cannot be used and why, with exit 2', async () => {
    const key = new CheckpointSigner('paths.example/log', LocalEd25519Key.generate(), systemClock)
      .verifierKey;
    await mkdir(join(dir, 'a-folder'), { recursive: true });
    await writeFile(join(dir, 'plain'), 'not a directory');
    await expectUsage([
      [
        ['audit', 'verify', 'plain', '--key', key],
        'plain: is a file, not a directory; give the directory that `countersign audit export --out` wrote',
      ],
      [
        ['audit', 'verify', 'a-folder', '--key', 'a-folder'],
        'a-folder: cannot read the --key file (it is a directory, not a file); give the file holding the verifier key, or the key itself',
      ],
      [
        ['audit', 'verify', 'a-folder', '--key', key, '--trusted-checkpoint', 'a-folder'],
        'a-folder: cannot read the trusted checkpoint (it is a directory, not a file); give the checkpoint file you saved from the log earlier',
      ],
      [
        ['audit', 'verify-receipt', 'a-folder', '--key', key],
        'a-folder: cannot read the receipt (it is a directory, not a file); give a receipt written by `countersign audit receipt --out`',
      ],
    ]);
  });

  it('says which path an operator command cannot write and why, with exit 2', async () => {
    await mkdir(join(dir, 'a-folder'), { recursive: true });
    await writeFile(join(dir, 'plain'), 'not a directory');
    await expectUsage([
      [
        ['audit', 'export', '--out', 'plain/sub', '-c', 'countersign.yaml'],
        'plain/sub: cannot create the bundle directory (a part of the path is a file, not a directory); choose an --out directory you can write to',
      ],
      [
        ['audit', 'receipt', '0', '--out', 'plain/r', '-c', 'countersign.yaml'],
        'plain/r: cannot write the receipt (a part of the path is a file, not a directory); choose an --out file in a directory you can write to',
      ],
      [
        ['audit', 'ship', '--to', 'jsonl:shipped.jsonl', '--state', 'a-folder', '-c', 'countersign.yaml'],
        'a-folder: cannot read the cursor file (it is a directory, not a file); give --state a file path; it is created on first use',
      ],
    ]);
  });

  it('explains a missing signing key', async () => {
    const r = await cli('audit', 'key', '-c', 'nowhere.yaml');
    expect(r.code).toBe(2);
  });
});

describe('crash during appends', () => {
  it('after kill -9 the log verifies and every acknowledged event is in it', async () => {
    const db = join(dir, 'crash.db');
    // Node itself, not the tsx wrapper, so that SIGKILL hits the process that writes.
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'test', 'fixtures', 'append-forever.ts'), db],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let acknowledged = 0;
    await new Promise<void>((resolveKill) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        const lines = chunk.toString().trim().split('\n');
        acknowledged = Number(lines[lines.length - 1]);
        if (acknowledged >= 3000 && !child.killed) {
          child.kill('SIGKILL');
          resolveKill();
        }
      });
    });
    await new Promise((r) => child.once('exit', r));

    const store = new SqliteStore({ path: db });
    const head = await store.audit.treeHead();
    const count = (store.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    expect(head.size).toBe(count);
    expect(count).toBeGreaterThanOrEqual(acknowledged);
    const signer = new CheckpointSigner('crash.example/log', LocalEd25519Key.generate(), systemClock);
    await new AuditCheckpointer(store.audit, signer, systemClock).checkpoint();
    await exportBundle(store.audit, signer.verifierKey, join(dir, 'crash-bundle'));
    expect(await verifyBundle(join(dir, 'crash-bundle'), { key: signer.verifierKey })).toMatchObject({
      ok: true,
      entries: count,
    });
    await store.close();
  });
});
