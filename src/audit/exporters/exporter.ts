import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent } from '../../core/event.js';
import { leafHash } from '../merkle.js';

/**
 * Exporters ship audit entries to an observability stack. Delivery is at-least-once: the cursor
 * (next index to send) is persisted only after a sink accepted a batch, so a crash or a sink
 * outage loses nothing; a record sent twice carries the same log index and leaf hash, so
 * duplicates are identifiable downstream.
 */

export interface ExportRecord {
  index: number;
  /** hex SHA-256 leaf hash (RFC 9162) of the entry */
  leafHash: string;
  /** The entry as logged: RFC 8785 JSON text. */
  entry: string;
  event: AuditEvent;
}

export interface Exporter {
  /** Stable name: the cursor is kept under it. */
  readonly name: string;
  /** Delivers the batch or throws; must not return before the sink has it. */
  send(records: readonly ExportRecord[]): Promise<void>;
  close?(): Promise<void>;
}

export interface EntrySource {
  readEntries(from: number, limit: number): Promise<{ index: number; entry: string }[]>;
}

/** Cursors in one JSON file, replaced atomically. */
export class CursorFile {
  constructor(private readonly path: string) {}

  async read(): Promise<Record<string, number>> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(
        `exporter cursor file ${this.path} is unreadable: ${(e as Error).message}; fix or remove it`,
      );
    }
  }

  async get(name: string): Promise<number> {
    return (await this.read())[name] ?? 0;
  }

  async set(name: string, next: number): Promise<void> {
    const all = await this.read();
    all[name] = next;
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(`${this.path}.tmp`, JSON.stringify(all, null, 2));
    await rename(`${this.path}.tmp`, this.path);
  }
}

export function toRecord(row: { index: number; entry: string }): ExportRecord {
  return {
    index: row.index,
    leafHash: leafHash(row.entry).toString('hex'),
    entry: row.entry,
    event: JSON.parse(row.entry) as AuditEvent,
  };
}

/**
 * Sends everything from the exporter's cursor to the end of the log, in batches. Returns how many
 * records were delivered; throws (with the cursor left at the first undelivered one) if the sink fails.
 */
export async function exportOnce(
  source: EntrySource,
  exporter: Exporter,
  cursors: CursorFile,
  batchSize = 500,
): Promise<number> {
  let next = await cursors.get(exporter.name);
  let sent = 0;
  for (;;) {
    const rows = await source.readEntries(next, batchSize);
    if (rows.length === 0) return sent;
    await exporter.send(rows.map(toRecord));
    next = rows[rows.length - 1]!.index + 1;
    await cursors.set(exporter.name, next);
    sent += rows.length;
  }
}
