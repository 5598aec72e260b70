import { createBundle } from './bundle.js';
import type { AuditLogStore } from './log.js';

const PAGE = 10_000;

/**
 * Writes the log up to its latest checkpoint as a bundle (see bundle.ts). Entries after that
 * checkpoint are left out: a bundle only holds what a signature covers.
 */
export async function exportBundle(
  log: AuditLogStore,
  verifierKey: string,
  dir: string,
  onProgress?: (done: number, total: number) => void,
): Promise<{ size: number; checkpoints: number }> {
  const latest = await log.latestCheckpoint();
  if (!latest)
    throw new Error('the audit log has no signed checkpoint yet; start the gateway once, then export');
  const bundle = await createBundle(dir);
  for (let from = 0; from < latest.size; from += PAGE) {
    const rows = await log.readEntries(from, Math.min(PAGE, latest.size - from));
    rows.forEach((r, i) => {
      if (r.index !== from + i) throw new Error(`audit entry ${from + i} is missing from the store`);
    });
    await bundle.addEntries(rows.map((r) => r.entry));
    onProgress?.(from + rows.length, latest.size);
  }
  let batch = [];
  for await (const t of log.tilesAt(latest.size)) {
    batch.push(t);
    if (batch.length >= 256) {
      await bundle.addTiles(batch);
      batch = [];
    }
  }
  await bundle.addTiles(batch);
  const notes: string[] = [];
  for (let after = 0; ; ) {
    const page = await log.checkpoints(after, 1000);
    if (page.length === 0) break;
    for (const c of page) if (c.seq <= latest.seq) notes.push(c.note);
    after = page[page.length - 1]!.seq;
  }
  await bundle.finish(verifierKey, notes);
  return { size: latest.size, checkpoints: notes.length };
}
