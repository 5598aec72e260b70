import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { logKeyFrom } from '../../audit/checkpoint.js';
import { LocalEd25519Key } from '../../audit/note.js';
import { FileWitnessState, Witness } from '../../audit/witness.js';
import { witnessServer } from '../../audit/witness-http.js';
import { systemClock } from '../../core/clock.js';
import { checkStateFile, readOptionalArgFile, writeArgFile } from '../files.js';
import { integerIn, UsageError } from '../output.js';

const keyFix = 'give --key-file the witness key, or a path in a directory you can write to';

function witnessKey(file: string): LocalEd25519Key {
  const pem = readOptionalArgFile(file, 'witness key', keyFix);
  if (pem === undefined) {
    const key = LocalEd25519Key.generate();
    writeArgFile(file, key.toPem(), 'witness key', keyFix, { mode: 0o600, flag: 'wx' });
    return key;
  }
  try {
    return LocalEd25519Key.fromPem(pem);
  } catch {
    throw new UsageError(
      `${file}: not an Ed25519 private key (PKCS#8 PEM); move it away to create a new one`,
    );
  }
}

export function witnessCommand(program: Command): void {
  program
    .command('witness')
    .description('run a C2SP tlog-witness: cosign checkpoints only given a valid consistency proof')
    .requiredOption('--name <name>', 'witness name, a schema-less URL such as witness.example.com/w1')
    .requiredOption(
      '--log <verifier...>',
      'verifier key(s) of the log(s) to witness (`countersign audit key`)',
    )
    .option('--key-file <file>', 'witness Ed25519 key (created if missing, mode 0600)', 'witness.key')
    .option('--state <file>', 'where the latest cosigned checkpoints are kept', 'witness-state.json')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port', integerIn(0, 65_535), 9090)
    .addHelpText('after', '\nPrints its own verifier key on start. Exit codes: 0 stopped, 2 bad usage.')
    .action(
      async (opts: {
        name: string;
        log: string[];
        keyFile: string;
        state: string;
        host: string;
        port: number;
      }) => {
        let logs: ReturnType<typeof logKeyFrom>[];
        try {
          logs = opts.log.map((k) => logKeyFrom(k));
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        checkStateFile(opts.state, 'witness state');
        const witness = new Witness(
          opts.name,
          witnessKey(opts.keyFile),
          logs,
          new FileWitnessState(opts.state),
          systemClock,
        );
        const server = witnessServer(witness);
        await new Promise<void>((resolve, reject) => {
          // Without this listener a port in use is an unhandled 'error' event and a stack trace.
          server.once('error', (e: NodeJS.ErrnoException) =>
            reject(
              new UsageError(
                `cannot listen on ${opts.host}:${opts.port} (${e.code ?? e.message}); choose another --port or --host`,
              ),
            ),
          );
          server.listen(opts.port, opts.host, resolve);
        });
        const { port } = server.address() as AddressInfo;
        process.stdout.write(
          `witness ${opts.name} listening on http://${opts.host}:${port}/add-checkpoint\n  verifier key ${witness.verifierKey}\n  logs ${logs.map((l) => l.origin).join(', ')}\n`,
        );
        const stop = () => server.close(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
}
