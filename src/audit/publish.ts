import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointSink } from './checkpointer.js';
import type { AuditLogStore, StoredCheckpoint } from './log.js';
import { consistencyProof } from './merkle.js';
import { TileNodeReader } from './tiles.js';
import { formatAddCheckpoint } from './witness.js';

/** Writes each checkpoint to `<dir>/checkpoint` (atomically) and `<dir>/checkpoints/<seq>`. */
export function directorySink(dir: string): CheckpointSink {
  return {
    name: `directory ${dir}`,
    async publish(cp: StoredCheckpoint) {
      await mkdir(join(dir, 'checkpoints'), { recursive: true });
      await writeFile(join(dir, 'checkpoints', String(cp.seq).padStart(10, '0')), cp.note);
      await writeFile(join(dir, 'checkpoint.tmp'), cp.note);
      await rename(join(dir, 'checkpoint.tmp'), join(dir, 'checkpoint'));
      return undefined;
    },
  };
}

/**
 * Asks a tlog-witness for a cosignature, with a consistency proof from the size it last cosigned.
 * The witness tells its size on a 409 (or we start from 0), so a restarted log needs no state.
 */
export function witnessSink(url: string, fetchImpl: typeof fetch = fetch): CheckpointSink {
  let known: number | undefined;
  return {
    name: `witness ${url}`,
    async publish(cp: StoredCheckpoint, log: AuditLogStore) {
      const reader = new TileNodeReader(log);
      for (let attempt = 0; attempt < 2; attempt++) {
        const old = Math.min(known ?? 0, cp.size);
        const proof = old === 0 ? [] : await consistencyProof(reader, old, cp.size);
        const res = await fetchImpl(`${url.replace(/\/$/, '')}/add-checkpoint`, {
          method: 'POST',
          body: formatAddCheckpoint(old, proof, cp.note),
        });
        const body = await res.text();
        if (res.status === 200) {
          known = cp.size;
          return body;
        }
        if (res.status === 409 && res.headers.get('content-type')?.startsWith('text/x.tlog.size')) {
          known = Number(body.trim());
          if (known > cp.size)
            throw new Error(`witness ${url} has cosigned size ${known}, larger than our ${cp.size}`);
          continue;
        }
        throw new Error(
          `witness ${url} refused checkpoint ${cp.size}: ${res.status} ${body.trim().slice(0, 200)}`,
        );
      }
      throw new Error(`witness ${url} kept reporting a different size`);
    },
  };
}
