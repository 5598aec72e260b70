import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load.js';
import { ManualClock } from '../core/clock.js';
import type { AuditEvent } from '../core/event.js';
import { loadPolicy } from '../policy/load.js';
import { createGateway } from './gateway.js';
import { PolicyReloader } from './policy-reload.js';

const allowAll = 'default: { decision: allow }\n';
const denyAll = 'default: { decision: deny }\n';

function setup(text = allowAll) {
  const dir = mkdtempSync(join(tmpdir(), 'cs-reload-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  const events: AuditEvent[] = [];
  const errors: string[] = [];
  const reloader = new PolicyReloader(
    {
      files: [file],
      clock: new ManualClock(),
      appendEvents: async (e) => {
        events.push(...e);
      },
      log: { info: () => {}, error: (_o, m) => errors.push(m) },
      debounceMs: 20,
    },
    loadPolicy([file]),
  );
  return { dir, file, events, errors, reloader };
}

describe('policy reload', () => {
  it('swaps in a valid policy and records policy.loaded with the previous version', async () => {
    const { file, events, reloader } = setup();
    const before = reloader.current().version;
    writeFileSync(file, denyAll);
    const r = await reloader.reload('sighup');
    expect(r).toMatchObject({ ok: true, changed: true });
    expect(reloader.current().version).not.toBe(before);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'policy.loaded',
      details: { trigger: 'sighup', previous: before, files: [file] },
    });
  });

  it('keeps the old policy when the new one is invalid, and logs where the error is', async () => {
    const { file, events, errors, reloader } = setup();
    const before = reloader.current().version;
    writeFileSync(file, 'default: { decision: maybe }\n');
    const r = await reloader.reload('sighup');
    expect(r.ok).toBe(false);
    expect(reloader.current().version).toBe(before);
    expect(events).toEqual([]);
    expect(errors[0]).toMatch(/policy\.yaml:1:12: default\.decision is "maybe"/);
    expect(errors[0]).toMatch(/previous policy stays in force/);
  });

  it('does nothing when the content did not change', async () => {
    const { events, reloader } = setup();
    expect(await reloader.reload('sighup')).toMatchObject({ ok: true, changed: false });
    expect(events).toEqual([]);
  });

  it('reloads when the file is replaced on disk, as editors do', async () => {
    const { dir, file, events, reloader } = setup();
    reloader.watch();
    try {
      writeFileSync(join(dir, 'new.tmp'), denyAll);
      renameSync(join(dir, 'new.tmp'), file);
      await vi.waitFor(() => expect(events.map((e) => e.kind)).toEqual(['policy.loaded']), {
        timeout: 10_000,
        interval: 20,
      });
      expect(
        reloader.current().evaluate({
          action: { type: 'x', resource: '', params: {}, justification: '' },
          actor: { id: 'a', name: 'a', principal: null, via: 'api_key' },
          now: 0,
        }).decision,
      ).toBe('deny');
    } finally {
      reloader.close();
    }
  });
});

describe('gateway policy reload', () => {
  it('records the starting policy and a reload in the audit log; new requests use the new version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-gw-reload-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, allowAll);
    const config = loadConfig(null);
    config.dataDir = dir;
    config.store.path = join(dir, 'cs.db');
    config.audit.signingKeyFile = join(dir, 'key');
    config.policyFiles = [file];
    config.policyWatch = false;
    config.dev = false;
    const gw = await createGateway(config, new ManualClock());
    try {
      const first = gw.policy().version;
      writeFileSync(file, 'default: { decision: [broken\n');
      expect((await gw.reloadPolicy('sighup')).ok).toBe(false);
      expect(gw.policy().version).toBe(first);
      writeFileSync(file, denyAll);
      expect(await gw.reloadPolicy('sighup')).toMatchObject({ ok: true, changed: true });
      const loaded = (await gw.store.readEvents(0, 100)).filter((e) => e.kind === 'policy.loaded');
      expect(loaded.map((e) => e.details.trigger)).toEqual(['startup', 'sighup']);
      expect(loaded[1]?.details.version).toBe(gw.policy().version);
      expect(loaded[1]?.details.previous).toBe(first);
    } finally {
      await gw.close();
    }
  });
});
