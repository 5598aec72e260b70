import type { Clock } from '../core/clock.js';
import { type CheckpointSigner, chainExtension } from './checkpoint.js';
import type { AuditLogStore, StoredCheckpoint } from './log.js';

/** Somewhere a new checkpoint is published: a directory, a witness. May return cosignature lines. */
export interface CheckpointSink {
  readonly name: string;
  publish(checkpoint: StoredCheckpoint, log: AuditLogStore): Promise<string | undefined>;
}

export interface AuditCheckpointerOptions {
  /** Sign at most this often while the tree grows (default 1000 ms). */
  intervalMs?: number;
  sinks?: CheckpointSink[];
  onError?: (error: unknown, where: string) => void;
}

/**
 * Signs a checkpoint whenever the committed tree has grown, at most once per interval, and once
 * more at shutdown. Signing happens after the commit (it may call a KMS), so it never holds a
 * write transaction open; the entries are durable before any checkpoint covers them.
 */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: AuditLogStore,
    readonly signer: CheckpointSigner,
    private readonly clock: Clock,
    private readonly options: AuditCheckpointerOptions = {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.checkpoint().catch((e) => this.options.onError?.(e, 'checkpoint'));
    }, this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checkpoint();
  }

  /** Signs and stores a checkpoint if the tree grew since the last one; returns the latest stored. */
  checkpoint(): Promise<StoredCheckpoint | undefined> {
    const next = this.chain.then(() => this.signIfGrown());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async signIfGrown(): Promise<StoredCheckpoint | undefined> {
    const head = await this.log.treeHead();
    const last = await this.log.latestCheckpoint();
    if (last && last.size >= head.size) return last;
    const at = this.clock.now();
    // Each checkpoint names its place and the one before it (docs/decisions/0010-checkpoint-chain.md).
    const seq = (last?.seq ?? 0) + 1;
    const note = await this.signer.sign(head.size, head.root, [chainExtension(seq, last?.note ?? null)]);
    await this.log.saveCheckpoint(seq, head.size, at, note);
    const saved = await this.log.latestCheckpoint();
    if (saved && saved.size === head.size) await this.publish(saved);
    return saved;
  }

  private async publish(cp: StoredCheckpoint): Promise<void> {
    let note = cp.note;
    for (const sink of this.options.sinks ?? []) {
      try {
        const cosignatures = await sink.publish({ ...cp, note }, this.log);
        if (cosignatures) note += cosignatures;
      } catch (e) {
        this.options.onError?.(e, `publish to ${sink.name}`);
      }
    }
    if (note !== cp.note) await this.log.updateCheckpointNote(cp.seq, note);
  }
}
