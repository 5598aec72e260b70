import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The checkpointer runs in its own thread with its own connection. A checkpoint copies WAL frames
 * into the database file and fsyncs it (synchronous=FULL on this connection) before SQLite may
 * recycle the WAL, so the writer, which commits with synchronous=OFF and fsyncs the WAL itself,
 * never loses a committed frame. Doing it here keeps the event loop free: a checkpoint of a busy
 * WAL takes tens of milliseconds. Plain JS because a worker runs it without the TS loader.
 */
const source = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
let busy = false;
function run() {
  if (busy) return;
  busy = true;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // r.log is the WAL as this round saw it. Frames committed while it copied are left over, and
    // under steady writes there always are some; see onLong.
    if (r && !r.busy && r.log >= workerData.longFrames) parentPort.postMessage({ long: r.log });
  } catch (e) { parentPort.postMessage({ error: String(e && e.message) }); }
  busy = false;
}
const timer = setInterval(run, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); run(); db.close(); parentPort.postMessage('stopped'); }
});
`;

export class Checkpointer {
  private readonly worker: Worker;

  /**
   * `onLong(frames)` is called after a round that found at least `longFrames` frames in the WAL.
   * SQLite starts the WAL over only when a write begins after a checkpoint copied every frame.
   * Under steady writes a checkpoint on this thread never gets there: more frames are committed
   * while it copies. The WAL then grows by everything written (2.2 GB in 30 s of
   * `POST /v1/actions` load), so the writer's thread finishes the job (see SqliteStore).
   */
  constructor(
    path: string,
    intervalMs: number,
    onError: (message: string) => void,
    onLong: (frames: number) => void = () => {},
    longFrames = 1024,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(source, {
      eval: true,
      workerData: { path, driver, intervalMs, longFrames },
    });
    this.worker.on('message', (m: unknown) => {
      if (typeof m !== 'object' || m === null) return;
      if ('error' in m) onError(String((m as { error: unknown }).error));
      if ('long' in m) onLong(Number((m as { long: unknown }).long));
    });
    this.worker.unref();
  }

  async stop(): Promise<void> {
    // Unref'd so an idle gateway can exit; while stopping, the last checkpoint must finish.
    this.worker.ref();
    // Only 'stopped' means the last checkpoint is done and the connection closed; the last round
    // may post other messages first.
    const stopped = new Promise<void>((resolve) => {
      this.worker.on('message', (m: unknown) => {
        if (m === 'stopped') resolve();
      });
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage('stop');
    await stopped;
    await this.worker.terminate();
  }
}
