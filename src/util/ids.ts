import { randomBytes, randomFillSync } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/**
 * `prefix_` + 48-bit millisecond time + 80 random bits: ids sort by creation time, which keeps
 * listing newest-first cheap, and cannot be guessed.
 */
// Ids are minted per request; drawing randomness in 4 KiB chunks keeps that off the hot path.
const pool = Buffer.alloc(4096);
let offset = pool.length;

export function newId(prefix: string, now: number = Date.now()): string {
  const buf = Buffer.alloc(16);
  buf.writeUIntBE(now, 0, 6);
  if (offset + 10 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(buf, 6, offset, offset + 10);
  // Used bytes are zeroed so no two ids can ever share them.
  pool.fill(0, offset, offset + 10);
  offset += 10;
  return `${prefix}_${base32(buf)}`;
}

/** A high-entropy secret for keys and tokens. */
export function newSecret(bytes = 32): string {
  return base32(randomBytes(bytes));
}
