import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { examplePolicy } from '../../server/gateway.js';
import { loadOrCreateSigningKey } from '../../server/keys.js';
import { makeArgDir, writeArgFile } from '../files.js';
import { printJson, UsageError } from '../output.js';

const template = `# Countersign configuration. Reference: docs/configuration.md
# Any key can be overridden from the environment: COUNTERSIGN__SERVER__PORT=9000
server:
  host: 127.0.0.1
  port: 8080
dataDir: ./.countersign
policy:
  files: [./policy.yaml]
# Reviewers and their approver groups. Issue them tokens with \`countersign reviewers token ID\`.
reviewers:
  - id: alice@example.com
    email: alice@example.com
    name: Alice
    groups: [sre]
`;

export function initCommand(program: Command): void {
  program
    .command('init')
    .description(
      'write countersign.yaml and policy.yaml, and create the data directory and audit signing key',
    )
    .option('--dir <dir>', 'where to write them', '.')
    .option('--force', 'overwrite existing countersign.yaml and policy.yaml')
    .option('--json', 'machine-readable output')
    .action((opts: { dir: string; force?: boolean; json?: boolean }) => {
      const dir = resolve(opts.dir);
      const configFile = join(dir, 'countersign.yaml');
      const policyFile = join(dir, 'policy.yaml');
      for (const f of [configFile, policyFile]) {
        if (existsSync(f) && !opts.force) throw new UsageError(`${f} exists; pass --force to overwrite it`);
      }
      const fix = 'choose a --dir that is a directory you can write to, or one to create';
      makeArgDir(join(dir, '.countersign'), 'data directory', fix, 0o700);
      writeArgFile(configFile, template, 'configuration', fix);
      writeArgFile(policyFile, readFileSync(examplePolicy, 'utf8'), 'policy', fix);
      const keyFile = join(dir, '.countersign', 'audit-signing.key');
      const key = loadOrCreateSigningKey(keyFile);
      const out = {
        config: configFile,
        policy: policyFile,
        signingKey: keyFile,
        signingKeyCreated: key.created,
      };
      if (opts.json) return printJson(out);
      process.stdout.write(
        [
          `wrote ${configFile}`,
          `wrote ${policyFile}`,
          `${key.created ? 'created' : 'kept'} ${keyFile} (Ed25519, mode 0600; back it up)`,
          '',
          'next:',
          '  edit reviewers in countersign.yaml and rules in policy.yaml',
          '  countersign actors create --name my-agent --owner you@example.com',
          '  countersign serve --config countersign.yaml',
          '',
        ].join('\n'),
      );
    });
}
