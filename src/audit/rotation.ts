import type { Clock } from '../core/clock.js';
import type { AuditEvent, EventSubject } from '../core/event.js';
import { CheckpointSigner } from './checkpoint.js';
import { AuditCheckpointer } from './checkpointer.js';
import type { AuditLogStore, StoredCheckpoint } from './log.js';
import type { Ed25519Key } from './note.js';

/**
 * Key rotation is itself an entry: `audit.key_rotated` names the previous and the new verifier
 * key, and the checkpoint that first covers it is signed by both keys. A verifier that trusts the
 * old key learns the new one from that checkpoint and from then on accepts only the new one.
 */
export const KEY_ROTATED = 'audit.key_rotated';

export interface Rotation {
  /** Index of the rotation entry. */
  index: number;
  previousKey: string;
  newKey: string;
}

export async function rotateKey(input: {
  log: AuditLogStore;
  append: (events: AuditEvent[]) => Promise<void>;
  old: CheckpointSigner;
  next: Ed25519Key;
  clock: Clock;
  subject: EventSubject;
}): Promise<{ signer: CheckpointSigner; checkpoint: StoredCheckpoint }> {
  const { log, old, next, clock } = input;
  // Everything before the rotation is sealed by the old key alone.
  await new AuditCheckpointer(log, old, clock).checkpoint();
  const signer = new CheckpointSigner(old.origin, next, clock);
  await input.append([
    {
      kind: KEY_ROTATED,
      at: clock.now(),
      requestId: null,
      subject: input.subject,
      details: { origin: old.origin, previousKey: old.verifierKey, newKey: signer.verifierKey },
    },
  ]);
  const checkpoint = await new AuditCheckpointer(
    log,
    new CheckpointSigner(old.origin, old.key, clock, next),
    clock,
  ).checkpoint();
  if (!checkpoint) throw new Error('the rotation checkpoint could not be stored');
  return { signer, checkpoint };
}

const needle = Buffer.from(`"kind":"${KEY_ROTATED}"`);

/**
 * Finds rotation entries in line chunks fed one by one (whole lines only), so verification can
 * look for them in the same pass that hashes the entries. A byte search skips chunks without any.
 */
export class RotationScanner {
  readonly found: Rotation[] = [];
  private line = 0;

  scan(c: Buffer): void {
    if (c.indexOf(needle) < 0) {
      this.line += countLines(c);
      return;
    }
    let start = 0;
    for (let nl = c.indexOf(0x0a); nl >= 0; nl = c.indexOf(0x0a, start)) {
      if (c.subarray(start, nl).indexOf(needle) >= 0) {
        const r = parseRotation(c.subarray(start, nl), this.line);
        if (r) this.found.push(r);
      }
      this.line++;
      start = nl + 1;
    }
  }
}

function countLines(c: Buffer): number {
  let n = 0;
  for (let i = c.indexOf(0x0a); i >= 0; i = c.indexOf(0x0a, i + 1)) n++;
  return n;
}

function parseRotation(bytes: Buffer, index: number): Rotation | undefined {
  try {
    const e = JSON.parse(bytes.toString('utf8')) as AuditEvent;
    const d = e.details as { previousKey?: unknown; newKey?: unknown };
    if (e.kind !== KEY_ROTATED || typeof d.previousKey !== 'string' || typeof d.newKey !== 'string')
      return undefined;
    return { index, previousKey: d.previousKey, newKey: d.newKey };
  } catch {
    return undefined;
  }
}
