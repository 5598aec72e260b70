import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../core/clock.js';
import { decodeBase64 } from './base64.js';
import { cosigner, type LogKey, type OpenedCheckpoint, openCheckpoint } from './checkpoint.js';
import { verifyConsistency } from './merkle.js';
import {
  type Ed25519Key,
  keyId,
  type NoteSigner,
  SIG_COSIGNATURE_V1,
  signatureLine,
  verifierKey,
} from './note.js';

/**
 * A witness in the sense of C2SP tlog-witness: it remembers the latest checkpoint it cosigned per
 * log and cosigns a new one only with a valid consistency proof from that one, so a log cannot
 * drop its newest entries or show two histories (a fork) without the witness refusing.
 */

export interface WitnessRecord {
  size: number;
  /** base64 root hash */
  root: string;
  /** The checkpoint note as cosigned, kept as evidence. */
  checkpoint: string;
}

/** Where a witness keeps its state. `update` must check and persist atomically (see the spec's race). */
export interface WitnessState {
  latest(origin: string): Promise<WitnessRecord | undefined>;
  update(
    origin: string,
    change: (cur: WitnessRecord | undefined) => WitnessRecord | undefined,
  ): Promise<void>;
  /** Evidence of misbehaviour: a checkpoint that conflicts with one already cosigned. */
  recordConflict(origin: string, checkpoint: string, reason: string): Promise<void>;
}

export interface WitnessResponse {
  status: 200 | 400 | 403 | 404 | 409 | 422;
  contentType: string;
  body: string;
}

const text = (status: WitnessResponse['status'], body: string): WitnessResponse => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: `${body}\n`,
});

export class Witness {
  private readonly signer: NoteSigner;

  constructor(
    readonly name: string,
    private readonly key: Ed25519Key,
    private readonly logs: readonly LogKey[],
    private readonly state: WitnessState,
    clock: Clock,
  ) {
    this.signer = cosigner(name, key, clock);
  }

  /** The witness's cosigner key (signed-note type 0x04), for whoever checks its cosignatures. */
  get verifierKey(): string {
    return verifierKey(this.name, SIG_COSIGNATURE_V1, this.key.publicKey);
  }

  get keyId(): number {
    return keyId(this.name, SIG_COSIGNATURE_V1, this.key.publicKey);
  }

  /** The `add-checkpoint` call: body is `old N`, proof lines, a blank line, the checkpoint. */
  async addCheckpoint(body: string): Promise<WitnessResponse> {
    const req = parseAddCheckpoint(body);
    if (typeof req === 'string') return text(400, req);
    const origin = body.slice(body.indexOf('\n\n') + 2).split('\n', 1)[0]!;
    const key = this.logs.find((l) => l.origin === origin);
    if (!key) return text(404, `unknown log origin ${JSON.stringify(origin)}`);
    let cp: OpenedCheckpoint;
    try {
      cp = openCheckpoint(req.checkpoint, key);
    } catch (e) {
      return text(403, `checkpoint signature does not verify: ${(e as Error).message}`);
    }
    if (req.oldSize > cp.checkpoint.size)
      return text(400, `old size ${req.oldSize} exceeds checkpoint size ${cp.checkpoint.size}`);
    let outcome: WitnessResponse | undefined;
    await this.state.update(origin, (cur) => {
      outcome = this.judge(cur, req, cp);
      if (outcome) return undefined;
      return {
        size: cp.checkpoint.size,
        root: cp.checkpoint.root.toString('base64'),
        checkpoint: req.checkpoint,
      };
    });
    if (outcome) {
      if ((outcome.status === 409 && outcome.body.startsWith('fork')) || outcome.status === 422) {
        await this.state.recordConflict(origin, req.checkpoint, outcome.body.trim());
      }
      return outcome;
    }
    const sig = await this.signer.sign(cp.note.text);
    return {
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: signatureLine({ name: this.name, keyId: this.signer.keyId, signature: sig }),
    };
  }

  private judge(
    cur: WitnessRecord | undefined,
    req: AddCheckpoint,
    cp: OpenedCheckpoint,
  ): WitnessResponse | undefined {
    const haveSize = cur?.size ?? 0;
    if (req.oldSize !== haveSize)
      return { status: 409, contentType: 'text/x.tlog.size', body: `${haveSize}\n` };
    const { size, root } = cp.checkpoint;
    if (cur && size === cur.size) {
      return root.toString('base64') === cur.root
        ? undefined
        : text(409, `fork: size ${size} was cosigned with another root`);
    }
    if (!cur)
      return req.proof.length === 0 ? undefined : text(422, 'consistency proof must be empty for old size 0');
    if (!verifyConsistency(cur.size, size, req.proof, Buffer.from(cur.root, 'base64'), root)) {
      return text(422, `consistency proof from size ${cur.size} to ${size} does not verify`);
    }
    return undefined;
  }
}

interface AddCheckpoint {
  oldSize: number;
  proof: Buffer[];
  checkpoint: string;
}

export function formatAddCheckpoint(oldSize: number, proof: readonly Buffer[], checkpoint: string): string {
  return `old ${oldSize}\n${proof.map((p) => `${p.toString('base64')}\n`).join('')}\n${checkpoint}`;
}

function parseAddCheckpoint(body: string): AddCheckpoint | string {
  const split = body.indexOf('\n\n');
  if (split < 0) return 'request has no blank line before the checkpoint';
  const lines = body.slice(0, split).split('\n');
  const m = /^old (0|[1-9]\d*)$/.exec(lines[0] ?? '');
  if (!m) return 'first line must be `old <size>`';
  if (lines.length - 1 > 63) return 'more than 63 consistency proof lines';
  const proof = lines.slice(1).map(decodeBase64);
  if (proof.some((p) => p?.length !== 32)) return 'a proof line is not a base64 SHA-256 hash';
  return { oldSize: Number(m[1]), proof: proof as Buffer[], checkpoint: body.slice(split + 2) };
}

/** Witness state in one JSON file, replaced atomically (write then rename); calls are serialised. */
export class FileWitnessState implements WitnessState {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  private async load(): Promise<{ logs: Record<string, WitnessRecord>; conflicts: unknown[] }> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { logs: {}, conflicts: [] };
      throw new Error(`witness state ${this.path} cannot be read: ${(e as Error).message}`);
    }
  }

  private async save(data: unknown): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify(data, null, 2));
    await rename(tmp, this.path);
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async latest(origin: string): Promise<WitnessRecord | undefined> {
    return this.serial(async () => (await this.load()).logs[origin]);
  }

  update(
    origin: string,
    change: (cur: WitnessRecord | undefined) => WitnessRecord | undefined,
  ): Promise<void> {
    return this.serial(async () => {
      const data = await this.load();
      const next = change(data.logs[origin]);
      if (!next) return;
      data.logs[origin] = next;
      await this.save(data);
    });
  }

  recordConflict(origin: string, checkpoint: string, reason: string): Promise<void> {
    return this.serial(async () => {
      const data = await this.load();
      data.conflicts.push({ origin, checkpoint, reason, at: new Date().toISOString() });
      await this.save(data);
    });
  }
}
