import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { AuditEvent } from '../core/event.js';
import { loadPolicy } from '../policy/load.js';
import type { Policy } from '../policy/types.js';

/** The slice of the logger and the store the reloader uses. */
export interface ReloadDeps {
  files: string[];
  clock: Clock;
  appendEvents(events: AuditEvent[]): Promise<void>;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Compiles the files; injectable so tests can count or fail loads. */
  load?: (files: string[]) => Policy;
  /** Quiet period after a change event before reloading, so an editor's several writes load once. */
  debounceMs?: number;
}

export type ReloadTrigger = 'startup' | 'file_change' | 'sighup';
export type ReloadResult =
  | { ok: true; changed: boolean; version: string }
  | { ok: false; error: string; version: string };

/**
 * Holds the running policy and replaces it only with one that compiled: an invalid file keeps the
 * old policy running and is logged with its file:line:column. Every policy that takes effect is
 * recorded as a `policy.loaded` audit event, so each request's `policy.version` can be traced to
 * the files it was decided under.
 */
export class PolicyReloader {
  private policy: Policy;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: ReloadDeps,
    initial: Policy,
  ) {
    this.policy = initial;
  }

  current(): Policy {
    return this.policy;
  }

  /** The entry that records the policy the gateway started with; the caller appends it. */
  startupEvent(): AuditEvent {
    return this.event('startup', null);
  }

  /** Re-reads the files; reloads run one at a time, in order. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    const next = this.chain.then(() => this.reloadNow(trigger));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<ReloadResult> {
    let candidate: Policy;
    try {
      candidate = (this.deps.load ?? loadPolicy)(this.deps.files);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.deps.log.error(
        { trigger, error, keptVersion: this.policy.version },
        `policy reload failed, the previous policy stays in force: ${error}`,
      );
      return { ok: false, error, version: this.policy.version };
    }
    if (candidate.version === this.policy.version)
      return { ok: true, changed: false, version: candidate.version };
    const previous = this.policy.version;
    // The event is written before the swap: a policy that cannot be recorded does not take effect.
    await this.deps.appendEvents([this.eventFor(candidate, trigger, previous)]);
    this.policy = candidate;
    this.deps.log.info({ trigger, version: candidate.version, previous }, 'policy reloaded');
    return { ok: true, changed: true, version: candidate.version };
  }

  /** Watches the directories of the policy files: editors often replace a file rather than write it. */
  watch(): void {
    const byDir = new Map<string, Set<string>>();
    for (const f of this.deps.files) {
      const abs = resolve(f);
      const set = byDir.get(dirname(abs)) ?? new Set<string>();
      set.add(basename(abs));
      byDir.set(dirname(abs), set);
    }
    for (const [dir, names] of byDir) {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) this.schedule();
      });
      w.on('error', (err) =>
        this.deps.log.error({ err, dir }, 'cannot watch the policy directory; reload with SIGHUP'),
      );
      this.watchers.push(w);
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload('file_change');
    }, this.deps.debounceMs ?? 200);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private event(trigger: ReloadTrigger, previous: string | null): AuditEvent {
    return this.eventFor(this.policy, trigger, previous);
  }

  private eventFor(policy: Policy, trigger: ReloadTrigger, previous: string | null): AuditEvent {
    return {
      kind: 'policy.loaded',
      at: this.deps.clock.now(),
      requestId: null,
      subject: { type: 'system', id: 'countersign' },
      details: { version: policy.version, files: policy.sources, trigger, previous },
    };
  }
}
