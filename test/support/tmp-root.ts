// Vitest global setup: every test file's temporary files go under one directory of this run,
// removed when the run ends. Tests create stores, configurations and logs with mkdtemp under
// os.tmpdir(); left behind, one run of the suite leaves hundreds of directories and about half
// a gigabyte (the WAL test alone writes 60–90 MB) on a disk that may be small.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'countersign-tests-'));
  // Read by os.tmpdir() in the forked test processes, which inherit this environment.
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
