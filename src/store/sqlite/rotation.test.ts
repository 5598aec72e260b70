import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointSigner } from '../../audit/checkpoint.js';
import { AuditCheckpointer } from '../../audit/checkpointer.js';
import { exportBundle } from '../../audit/export.js';
import { LocalEd25519Key } from '../../audit/note.js';
import { rotateKey } from '../../audit/rotation.js';
import { verifyBundle } from '../../audit/verify.js';
import { ManualClock } from '../../core/clock.js';
import type { AuditEvent } from '../../core/event.js';
import { SqliteStore } from './index.js';

const dirs: string[] = [];
afterEach(() => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))));

const event = (i: number): AuditEvent => ({
  kind: 'actor.created',
  at: i,
  requestId: null,
  subject: { type: 'operator', id: 'ops' },
  details: { i },
});

async function rotatedLog(signAfterWith: 'new' | 'old') {
  const dir = await mkdtemp(join(tmpdir(), 'cs-rotation-'));
  dirs.push(dir);
  const clock = new ManualClock();
  const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
  const old = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), clock);
  await store.appendEvents([event(0), event(1)]);
  clock.advance(1000);
  const { signer } = await rotateKey({
    log: store.audit,
    append: (e) => store.appendEvents(e),
    old,
    next: LocalEd25519Key.generate(),
    clock,
    subject: { type: 'operator', id: 'ops' },
  });
  await store.appendEvents([event(2)]);
  clock.advance(1000);
  await new AuditCheckpointer(store.audit, signAfterWith === 'new' ? signer : old, clock).checkpoint();
  await exportBundle(store.audit, signer.verifierKey, join(dir, 'bundle'));
  await store.close();
  return { bundle: join(dir, 'bundle'), old, signer };
}

describe('key rotation', () => {
  it('is an entry, and an auditor holding the old key follows the hand-over', async () => {
    const { bundle, old, signer } = await rotatedLog('new');
    expect(await verifyBundle(bundle, { key: old.verifierKey })).toMatchObject({
      ok: true,
      entries: 4,
      checkpoints: 3,
    });
    // The new key alone cannot vouch for what was signed before it existed; the auditor who ran
    // `audit key` after the rotation is told which key to look for.
    const problem = (await verifyBundle(bundle, { key: signer.verifierKey })).problem;
    expect(problem).toMatchObject({ code: 'checkpoint' });
    expect(problem?.message).toContain('The key you gave is the one this log rotated to at entry 2');
    expect(problem?.message).toContain(`the bundle says it was ${old.verifierKey}`);
  });

  it('retires the old key: a checkpoint it signs after the rotation is refused', async () => {
    const { bundle, old } = await rotatedLog('old');
    expect((await verifyBundle(bundle, { key: old.verifierKey })).problem).toMatchObject({
      code: 'checkpoint',
      path: 'checkpoints/0000000003',
    });
  });

  it('refuses a rotation whose first checkpoint the new key did not sign', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-rotation-'));
    dirs.push(dir);
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    const old = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), clock);
    const next = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), clock);
    await store.appendEvents([
      event(0),
      {
        ...event(1),
        kind: 'audit.key_rotated',
        details: { previousKey: old.verifierKey, newKey: next.verifierKey },
      },
    ]);
    await new AuditCheckpointer(store.audit, old, clock).checkpoint();
    await exportBundle(store.audit, old.verifierKey, join(dir, 'bundle'));
    await store.close();
    expect((await verifyBundle(join(dir, 'bundle'), { key: old.verifierKey })).problem).toMatchObject({
      code: 'checkpoint',
      index: 1,
    });
  });
});
