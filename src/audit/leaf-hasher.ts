import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HASH_SIZE, leafHash } from './merkle.js';

/**
 * Leaf hashing of many entries on worker threads, so that verifying a large bundle uses every
 * core: the main thread builds the tree while workers hash the next chunks. The worker is plain
 * JavaScript evaluated from a string, so it runs the same from sources (tsx, vitest) and from dist.
 */

// Input: a chunk of complete lines, each ending in "\n". Output: SHA-256(0x00 || line) per line.
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
parentPort.on('message', ({ id, chunk }) => {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  let count = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) count++;
  const out = Buffer.allocUnsafeSlow(count * 32);
  let start = 0;
  for (let k = 0; k < count; k++) {
    const nl = buf.indexOf(10, start);
    const leaf = Buffer.allocUnsafe(nl - start + 1);
    leaf[0] = 0;
    buf.copy(leaf, 1, start, nl);
    hash('sha256', leaf, 'buffer').copy(out, k * 32);
    start = nl + 1;
  }
  parentPort.postMessage({ id, hashes: out }, [out.buffer]);
});
`;

type Pending = { resolve: (b: Buffer) => void; reject: (e: unknown) => void };

class Pool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private seq = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(workerSource, { eval: true });
      w.on('message', ({ id, hashes }: { id: number; hashes: Uint8Array }) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.resolve(Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength));
        this.idle();
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /** Unreferenced while idle, so a process that is done can exit without closing the pool. */
  private idle(): void {
    if (this.pending.size === 0) for (const w of this.workers) w.unref();
  }

  hash(chunk: Buffer): Promise<Buffer> {
    const id = this.seq++;
    const copy = new Uint8Array(chunk.length);
    copy.set(chunk);
    const w = this.workers[this.next++ % this.workers.length]!;
    for (const x of this.workers) x.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, chunk: copy }, [copy.buffer]);
    });
  }
}

let pool: Pool | undefined;

function sharedPool(): Pool | undefined {
  const size = Math.max(1, cpus().length - 1);
  if (!pool && cpus().length > 1) pool = new Pool(size);
  return pool;
}

/** Leaf hashes of a chunk of complete lines, on this thread. */
export function hashLines(chunk: Buffer): Buffer {
  const hashes: Buffer[] = [];
  let start = 0;
  for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
    hashes.push(leafHash(chunk.subarray(start, nl)));
    start = nl + 1;
  }
  return Buffer.concat(hashes, hashes.length * HASH_SIZE);
}

/**
 * Leaf hashes for a stream of line chunks, in order, with a few chunks in flight so workers and
 * the consumer overlap. Falls back to this thread on a single core.
 */
export async function* hashLineChunks(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const p = sharedPool();
  if (!p) {
    for await (const c of chunks) yield hashLines(c);
    return;
  }
  const inFlight: Promise<Buffer>[] = [];
  for await (const c of chunks) {
    inFlight.push(p.hash(c));
    if (inFlight.length >= 4) yield await inFlight.shift()!;
  }
  while (inFlight.length > 0) yield await inFlight.shift()!;
}
