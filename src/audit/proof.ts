import { decodeBase64 } from './base64.js';
import { type LogKey, type OpenedCheckpoint, openCheckpoint } from './checkpoint.js';
import { leafHash, verifyInclusion } from './merkle.js';

/**
 * Per-entry offline receipt in the C2SP tlog-proof format. The `extra` line carries the entry
 * itself, so the receipt alone proves the event: its leaf hash is checked by the inclusion proof
 * against a checkpoint signed and dated by the log key.
 */

const HEADER = 'c2sp.org/tlog-proof@v1';

export interface Receipt {
  index: number;
  proof: Buffer[];
  /** The signed checkpoint note, verbatim. */
  checkpoint: string;
  extra?: Buffer;
}

export function formatReceipt(r: Receipt): string {
  const extra = r.extra ? `extra ${r.extra.toString('base64')}\n` : '';
  const proof = r.proof.map((h) => `${h.toString('base64')}\n`).join('');
  return `${HEADER}\n${extra}index ${r.index}\n${proof}\n${r.checkpoint}`;
}

export function parseReceipt(text: string): Receipt {
  const lines = text.split('\n');
  if (lines[0] !== HEADER) throw new Error(`receipt does not start with ${HEADER}`);
  let at = 1;
  let extra: Buffer | undefined;
  if (lines[at]?.startsWith('extra ')) {
    extra = decodeBase64(lines[at++]!.slice(6));
    if (!extra) throw new Error('receipt `extra` line is not canonical base64');
  }
  const idx = /^index (0|[1-9]\d*)$/.exec(lines[at++] ?? '');
  if (!idx) throw new Error('receipt has no valid `index` line');
  const proof: Buffer[] = [];
  while (at < lines.length && lines[at] !== '') {
    const h = decodeBase64(lines[at]!);
    if (h?.length !== 32) throw new Error(`receipt proof line ${at + 1} is not a base64 SHA-256 hash`);
    proof.push(h);
    at++;
  }
  if (at >= lines.length) throw new Error('receipt has no checkpoint after its proof');
  return {
    index: Number(idx[1]),
    proof,
    checkpoint: lines.slice(at + 1).join('\n'),
    ...(extra ? { extra } : {}),
  };
}

/** Verifies a receipt offline; the entry defaults to the one carried in `extra`. Throws on failure. */
export function verifyReceipt(
  text: string,
  key: LogKey,
  entry?: string,
): { index: number; entry: string; checkpoint: OpenedCheckpoint } {
  const r = parseReceipt(text);
  const opened = openCheckpoint(r.checkpoint, key);
  const body = entry ?? r.extra?.toString('utf8');
  if (body === undefined) throw new Error('receipt carries no entry; pass the entry to check');
  const { size, root } = opened.checkpoint;
  if (r.index >= size) throw new Error(`receipt index ${r.index} is beyond the checkpoint size ${size}`);
  if (!verifyInclusion(r.index, size, leafHash(body), r.proof, root)) {
    throw new Error(
      `entry ${r.index} is not included in the checkpoint of size ${size}: proof or entry altered`,
    );
  }
  return { index: r.index, entry: body, checkpoint: opened };
}
