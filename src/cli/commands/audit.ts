import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { type CheckpointSigner, logKeyFrom } from '../../audit/checkpoint.js';
import { AuditCheckpointer } from '../../audit/checkpointer.js';
import { exportBundle } from '../../audit/export.js';
import { CursorFile, exportOnce } from '../../audit/exporters/exporter.js';
import { displayTarget, exporterFor } from '../../audit/exporters/targets.js';
import { logSigner, originFile, type StoredCheckpoint } from '../../audit/log.js';
import { inclusionProof, leafHash } from '../../audit/merkle.js';
import { LocalEd25519Key } from '../../audit/note.js';
import { formatReceipt, verifyReceipt } from '../../audit/proof.js';
import { rotateKey } from '../../audit/rotation.js';
import { TileNodeReader } from '../../audit/tiles.js';
import { type VerifyReport, verifyBundle } from '../../audit/verify.js';
import { systemClock } from '../../core/clock.js';
import { CountersignError } from '../../core/errors.js';
import { openStore } from '../../server/gateway.js';
import { inUseFile, keyUser, loadOrCreateSigningKey } from '../../server/keys.js';
import type { SqliteStore } from '../../store/sqlite/index.js';
import { type ConfigOption, resolveConfig } from '../context.js';
import { checkStateFile, makeArgDir, readArgFile, requireArgDir, writeArgFile } from '../files.js';
import { exit, integerIn, printFailure, printJson, table, UsageError } from '../output.js';

function signerFor(opts: ConfigOption): {
  signer: CheckpointSigner;
  config: ReturnType<typeof resolveConfig>;
} {
  const config = resolveConfig(opts);
  const file = config.audit.signingKeyFile;
  if (!existsSync(file)) {
    throw new UsageError(
      `no audit signing key at ${file}; run \`countersign init\` or start the gateway once`,
    );
  }
  return {
    signer: logSigner(
      loadOrCreateSigningKey(file).privateKey,
      systemClock,
      config.audit.origin ?? undefined,
      file,
    ),
    config,
  };
}

/** Opens the configured store and signs a checkpoint over everything committed so far. */
async function withLog<T>(
  opts: ConfigOption,
  fn: (
    store: SqliteStore,
    signer: CheckpointSigner,
    latest: StoredCheckpoint,
    config: ReturnType<typeof resolveConfig>,
  ) => Promise<T>,
): Promise<T> {
  const { signer, config } = signerFor(opts);
  const store = openStore(config);
  try {
    const latest = await new AuditCheckpointer(store.audit, signer, systemClock).checkpoint();
    if (!latest) throw new Error('the audit log could not be checkpointed');
    return await fn(store, signer, latest, config);
  } finally {
    await store.close();
  }
}

/** `--key` takes the verifier key itself or a file holding it. */
function readKey(key: string): string {
  if (!existsSync(key)) return key.trim();
  return readArgFile(key, '--key file', 'give the file holding the verifier key, or the key itself').trim();
}

/** `--key`, checked: a malformed key is bad usage (exit 2), not a failed verification. */
function verifierKeyArg(key: string): string {
  const text = readKey(key);
  try {
    logKeyFrom(text);
  } catch (e) {
    throw new UsageError((e as Error).message, '--key');
  }
  return text;
}

function printVerifyReport(report: VerifyReport): void {
  if (report.ok) {
    const when = new Date((report.timestamp ?? 0) * 1000).toISOString();
    process.stdout.write(
      `OK: ${report.entries} entries, ${report.checkpoints} checkpoints; tree size ${report.size}, root ${report.root}, signed ${when}\n`,
    );
    if (report.unchained)
      process.stdout.write(
        `note: the first ${report.unchained} checkpoints were signed before checkpoints were chained; only the chained ones after them show that none is missing\n`,
      );
    return;
  }
  const p = report.problem!;
  process.stdout.write(`FAILED (${p.code}): ${p.message}\n`);
  if (p.index !== undefined) process.stdout.write(`first bad entry: ${p.index}\n`);
}

async function receiptFor(store: SqliteStore, latest: StoredCheckpoint, index: number): Promise<string> {
  const [row] = await store.audit.readEntries(index, 1);
  if (!row || row.index !== index) throw new CountersignError('CS_ERR_NOT_FOUND', `no audit entry ${index}`);
  const proof = await inclusionProof(new TileNodeReader(store.audit), index, latest.size);
  return formatReceipt({ index, proof, checkpoint: latest.note, extra: Buffer.from(row.entry, 'utf8') });
}

const configOption = [
  '-c, --config <file>',
  'configuration file (default ./countersign.yaml if present)',
] as const;

/** `audit rotate-key` keeps every replaced key beside the current one as `<file>.retired-<time>`. */
function rotated(keyFile: string): boolean {
  try {
    return readdirSync(dirname(keyFile)).some((f) => f.startsWith(`${basename(keyFile)}.retired-`));
  } catch {
    return false;
  }
}

export function auditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('the tamper-evident audit log: key, export, offline verify, trails and receipts')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 verification failed or error, 2 bad usage (unreadable file, malformed key), 5 no such request or entry.\nDocs: docs/audit.md',
    );

  audit
    .command('key')
    .description("print the log's verifier key; give it to auditors out of band")
    .option(...configOption)
    .option('--json', 'print JSON')
    .action((opts: ConfigOption & { json?: boolean }) => {
      const { signer } = signerFor(opts);
      if (opts.json) return printJson({ origin: signer.origin, verifierKey: signer.verifierKey });
      process.stdout.write(`${signer.verifierKey}\n`);
    });

  audit
    .command('export')
    .description(
      'write a self-contained bundle (entries, tiles, checkpoints, verifier key) for offline verification',
    )
    .requiredOption('--out <dir>', 'directory to write (its bundle files are replaced)')
    .option(...configOption)
    .option('--json', 'print JSON')
    .action(async (opts: ConfigOption & { out: string; json?: boolean }) => {
      const { r, keyRotated } = await withLog(opts, async (store, signer, _latest, config) => {
        makeArgDir(opts.out, 'bundle directory', 'choose an --out directory you can write to');
        return {
          r: await exportBundle(store.audit, signer.verifierKey, opts.out),
          keyRotated: rotated(config.audit.signingKeyFile),
        };
      });
      if (opts.json) return printJson({ out: opts.out, ...r });
      process.stdout.write(`exported ${r.size} entries and ${r.checkpoints} checkpoints to ${opts.out}\n`);
      process.stdout.write(
        keyRotated
          ? 'this log rotated its signing key: verify with the key you trusted before the rotation, e.g.\n' +
              `  countersign audit verify ${opts.out} --key "<the earlier verifier key from your records>"\n` +
              '(`countersign audit key` prints the current key, which cannot vouch for checkpoints signed before it)\n'
          : `verify with: countersign audit verify ${opts.out} --key "$(countersign audit key)"\n`,
      );
    });

  audit
    .command('verify')
    .description('verify an exported bundle offline: every entry, tile, signature, timestamp order')
    .argument('<dir>', 'bundle directory')
    .requiredOption('--key <verifier>', "the log's verifier key (name+id+key), or a file holding it")
    .option('--trusted-checkpoint <file>', 'a checkpoint you saved earlier; the bundle must extend it')
    .option('--json', 'print JSON')
    .option('--no-progress', 'do not print progress on stderr')
    .action(
      async (
        dir: string,
        opts: { key: string; trustedCheckpoint?: string; json?: boolean; progress: boolean },
      ) => {
        requireArgDir(
          dir,
          'bundle directory',
          'give the directory that `countersign audit export --out` wrote',
        );
        const trusted =
          opts.trustedCheckpoint &&
          readArgFile(
            opts.trustedCheckpoint,
            'trusted checkpoint',
            'give the checkpoint file you saved from the log earlier',
          );
        const showProgress = opts.progress && !opts.json && process.stderr.isTTY;
        const report = await verifyBundle(dir, {
          key: verifierKeyArg(opts.key),
          ...(trusted ? { trustedCheckpoint: trusted } : {}),
          ...(showProgress
            ? { onProgress: (d: number, t: number) => process.stderr.write(`\rverified ${d}/${t} entries`) }
            : {}),
        });
        if (showProgress) process.stderr.write('\n');
        // --key was checked above: a key problem now is the trusted checkpoint's signature.
        if (report.problem?.code === 'key')
          throw new UsageError(report.problem.message, opts.trustedCheckpoint);
        if (opts.json) printJson(report);
        else printVerifyReport(report);
        if (!report.ok) process.exitCode = exit.failure;
      },
    );

  audit
    .command('trail')
    .description(
      'every event of one request, each with an inclusion proof checked against the latest checkpoint',
    )
    .argument('<request-id>', 'the action request id')
    .option(...configOption)
    .option('--json', 'print JSON (with a tlog-proof receipt per event)')
    .action(async (id: string, opts: ConfigOption & { json?: boolean }) => {
      const rows = await withLog(opts, async (store, signer, latest) => {
        const key = logKeyFrom(signer.verifierKey);
        const events = (await store.eventsForRequest(id)).filter((e) => e.index < latest.size);
        return Promise.all(
          events.map(async (e) => {
            const receipt = await receiptFor(store, latest, e.index);
            verifyReceipt(receipt, key, e.entry);
            return {
              index: e.index,
              kind: e.kind,
              at: new Date(e.at).toISOString(),
              subject: `${e.subject.type}:${e.subject.id}`,
              leafHash: leafHash(e.entry).toString('base64'),
              details: e.details,
              receipt,
            };
          }),
        );
      });
      if (rows.length === 0)
        throw new CountersignError(
          'CS_ERR_NOT_FOUND',
          `no audit events for request ${id}; check the id, and that --config names the configuration of the gateway that handled it`,
        );
      if (opts.json) return printJson(rows);
      process.stdout.write(
        `${table([['INDEX', 'EVENT', 'AT', 'BY', 'PROOF'], ...rows.map((r) => [String(r.index), r.kind, r.at, r.subject, 'included'])])}\n`,
      );
    });

  audit
    .command('receipt')
    .description('print the offline receipt (C2SP tlog-proof, with the entry) of one audit entry')
    .argument('<index>', 'entry index', integerIn(0, Number.MAX_SAFE_INTEGER))
    .option(...configOption)
    .option('--out <file>', 'write it to a file instead of stdout')
    .action(async (index: number, opts: ConfigOption & { out?: string }) => {
      const text = await withLog(opts, async (store, _s, latest) => {
        if (index >= latest.size)
          throw new CountersignError(
            'CS_ERR_NOT_FOUND',
            `entry ${index} does not exist: the log has ${latest.size} entries, numbered from 0`,
          );
        return receiptFor(store, latest, index);
      });
      if (opts.out)
        writeArgFile(opts.out, text, 'receipt', 'choose an --out file in a directory you can write to');
      else process.stdout.write(text);
    });

  audit
    .command('ship')
    .description('send audit entries to observability sinks, resuming from persisted cursors (at-least-once)')
    .requiredOption(
      '--to <target...>',
      'jsonl:FILE, ocsf:FILE, syslog+udp|tcp://HOST:PORT, syslog+tls://HOST:PORT[?ca=FILE], otlp+http://HOST:PORT/v1/logs',
    )
    .option('--state <file>', 'cursor file', 'audit-export-cursors.json')
    .option('--follow', 'keep running and ship new entries every second')
    .option(...configOption)
    .action(async (opts: ConfigOption & { to: string[]; state: string; follow?: boolean }) => {
      let exporters: ReturnType<typeof exporterFor>[];
      try {
        exporters = opts.to.map(exporterFor);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      checkStateFile(opts.state, 'cursor file');
      const store = openStore(resolveConfig(opts));
      const cursors = new CursorFile(opts.state);
      let failed = false;
      const round = async () => {
        for (const exp of exporters) {
          try {
            const n = await exportOnce(store.audit, exp, cursors);
            if (n > 0) process.stderr.write(`${displayTarget(exp.name)}: shipped ${n} entries\n`);
          } catch (e) {
            failed = true;
            process.stderr.write(
              `${displayTarget(exp.name)}: ${displayTarget((e as Error).message)}; will resume from the saved cursor\n`,
            );
          }
        }
      };
      try {
        await round();
        while (opts.follow) {
          await new Promise((r) => setTimeout(r, 1000));
          await round();
        }
      } finally {
        for (const exp of exporters) await exp.close?.();
        await store.close();
      }
      if (failed) process.exitCode = exit.failure;
    });

  audit
    .command('rotate-key')
    .description(
      'replace the signing key: logs the rotation and signs its checkpoint with both keys (stop the gateway first)',
    )
    .option(...configOption)
    .option('--json', 'print JSON')
    .action(async (opts: ConfigOption & { json?: boolean }) => {
      const { signer: old, config } = signerFor(opts);
      const file = config.audit.signingKeyFile;
      const running = keyUser(file);
      if (running !== undefined)
        throw new UsageError(
          `a gateway (pid ${running}) is signing with ${file}; stop it first, or its next checkpoint is signed with the retired key and the log verifies with neither (if no gateway runs, delete ${inUseFile(file)})`,
        );
      const next = LocalEd25519Key.generate();
      // The new key is on disk before the log names it, so a crash cannot lose it.
      writeFileSync(`${file}.next`, next.toPem(), { mode: 0o600 });
      const store = openStore(config);
      let result: Awaited<ReturnType<typeof rotateKey>>;
      try {
        result = await rotateKey({
          log: store.audit,
          append: (e) => store.appendEvents(e),
          old,
          next,
          clock: systemClock,
          subject: { type: 'operator', id: `cli:${process.env.USER ?? 'operator'}` },
        });
      } finally {
        await store.close();
      }
      if (!existsSync(originFile(file))) writeFileSync(originFile(file), `${old.origin}\n`);
      renameSync(file, `${file}.retired-${Date.now()}`);
      renameSync(`${file}.next`, file);
      const out = {
        origin: old.origin,
        previousKey: old.verifierKey,
        newKey: result.signer.verifierKey,
        checkpointSize: result.checkpoint.size,
      };
      if (opts.json) return printJson(out);
      process.stdout.write(
        `rotated the audit signing key of ${out.origin}\n  previous ${out.previousKey}\n  new      ${out.newKey}\nthe rotation is entry ${out.checkpointSize - 1}, its checkpoint is signed by both keys.\nGive the new key to your witnesses (--log) and auditors; auditors holding the old key follow the hand-over.\n`,
      );
    });

  audit
    .command('verify-receipt')
    .description('verify a receipt offline against the log verifier key')
    .argument('<file>', 'receipt file (.tlog-proof)')
    .requiredOption('--key <verifier>', "the log's verifier key, or a file holding it")
    .option('--json', 'print JSON')
    .action((file: string, opts: { key: string; json?: boolean }) => {
      const receipt = readArgFile(
        file,
        'receipt',
        'give a receipt written by `countersign audit receipt --out`',
      );
      const key = logKeyFrom(verifierKeyArg(opts.key));
      try {
        const r = verifyReceipt(receipt, key);
        if (opts.json)
          return printJson({
            ok: true,
            index: r.index,
            size: r.checkpoint.checkpoint.size,
            entry: JSON.parse(r.entry),
          });
        process.stdout.write(
          `OK: entry ${r.index} is in the log of size ${r.checkpoint.checkpoint.size}\n${r.entry}\n`,
        );
      } catch (e) {
        if (opts.json)
          printFailure({ code: 'verification_failed', message: (e as Error).message, where: file });
        else process.stdout.write(`FAILED: ${(e as Error).message}\n`);
        process.exitCode = exit.failure;
      }
    });
}
