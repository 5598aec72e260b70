import { open, rename, stat } from 'node:fs/promises';
import type { Exporter, ExportRecord } from './exporter.js';

/** One JSON object per line: index, leaf hash, and the event. */
export function jsonLine(r: ExportRecord): string {
  return `{"index":${r.index},"leafHash":"${r.leafHash}","event":${r.entry}}\n`;
}

/**
 * Appends to a JSON lines file, fsynced before the cursor moves; when the file passes `maxBytes`
 * it is renamed to `<file>.<first index of the next file>` and a new one is started, so rotated
 * files sort by position in the log.
 */
export function jsonlExporter(
  file: string,
  options: { maxBytes?: number; name?: string; format?: (r: ExportRecord) => string } = {},
): Exporter {
  const maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
  const format = options.format ?? jsonLine;
  return {
    name: options.name ?? `jsonl:${file}`,
    async send(records) {
      if (records.length === 0) return;
      const size = await stat(file).then(
        (s) => s.size,
        () => 0,
      );
      if (size >= maxBytes) await rename(file, `${file}.${String(records[0]!.index).padStart(12, '0')}`);
      const fh = await open(file, 'a');
      try {
        await fh.appendFile(records.map(format).join(''));
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
  };
}
