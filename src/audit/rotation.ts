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

/** Rotation entries in a stream of line chunks; a byte search skips chunks without any. */
export async function findRotations(chunks: AsyncIterable<Buffer>): Promise<Rotation[]> {
  const out: Rotation[] = [];
  let line = 0;
  for await (const c of chunks) {
    const search = c.indexOf(needle) >= 0;
    let start = 0;
    for (let nl = c.indexOf(0x0a); nl >= 0; nl = c.indexOf(0x0a, start)) {
      if (search && c.subarray(start, nl).indexOf(needle) >= 0) {
        const r = parseRotation(c.subarray(start, nl), line);
        if (r) out.push(r);
      }
      line++;
      start = nl + 1;
    }
  }
  return out;
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
