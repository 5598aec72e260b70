import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { systemClock } from '../../core/clock.js';
import { directoryFor, openStore } from '../../server/gateway.js';
import { Admin } from '../../service/admin.js';
import type { Credential } from '../../store/store.js';
import { parseDuration } from '../../util/duration.js';
import { type ConfigOption, resolveConfig } from '../context.js';
import { printJson, table, UsageError } from '../output.js';

/** Operator commands work on the store named by the configuration, like the server does. */
async function withAdmin<T>(
  opts: ConfigOption,
  fn: (admin: Admin, config: ReturnType<typeof resolveConfig>) => Promise<T>,
): Promise<T> {
  const config = resolveConfig(opts);
  // Run in the wrong directory, this would quietly keep keys in a store no gateway reads.
  if (!existsSync(config.store.path))
    process.stderr.write(
      `note: no store at ${config.store.path} yet; creating one. If your gateway keeps its store elsewhere, pass --config with its configuration.\n`,
    );
  const store = openStore(config);
  try {
    return await fn(new Admin(store, systemClock, `cli:${process.env.USER ?? 'operator'}`), config);
  } finally {
    await store.close();
  }
}

function expiry(text: string | undefined): number | null {
  if (!text) return null;
  const ms = parseDuration(text);
  // 0d would issue a credential that is expired before anyone can use it.
  if (ms === undefined || ms <= 0)
    throw new UsageError(`--expires must be a positive duration like 30d or 12h, not '${text}'`);
  return systemClock.now() + ms;
}

const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());

function revokedLine(c: Credential & { alreadyRevoked?: true }): string {
  return c.alreadyRevoked ? `${c.id} was already revoked at ${iso(c.revokedAt)}\n` : `revoked ${c.id}\n`;
}

const view = (c: Credential) => ({
  id: c.id,
  name: c.name,
  owner: c.owner,
  createdAt: iso(c.createdAt),
  expiresAt: c.expiresAt === null ? null : iso(c.expiresAt),
  revokedAt: c.revokedAt === null ? null : iso(c.revokedAt),
  allowedTypes: c.allowedTypes,
});

function listCredentials(items: Credential[], json?: boolean): void {
  if (json) {
    printJson(items.map(view));
    return;
  }
  if (!items.length) {
    process.stdout.write('none\n');
    return;
  }
  process.stdout.write(
    `${table([['ID', 'NAME', 'OWNER', 'CREATED', 'EXPIRES', 'REVOKED'], ...items.map((c) => [c.id, c.name, c.owner, iso(c.createdAt), iso(c.expiresAt), iso(c.revokedAt)])])}\n`,
  );
}

export function adminCommands(program: Command): void {
  const actors = program
    .command('actors')
    .description('agent keys (operator; works on the configured store)');
  actors
    .command('create')
    .description('create an agent key; the key is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'the agent, pipeline or service account')
    .requiredOption(
      '--owner <email>',
      'the human it acts for (its principal); they can never approve its requests',
    )
    .option('--expires <duration>', 'key lifetime, e.g. 90d')
    .option('--allow-type <glob...>', 'only these action types (globs) may be submitted with this key')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action(
      async (
        opts: ConfigOption & {
          name: string;
          owner: string;
          expires?: string;
          allowType?: string[];
          json?: boolean;
        },
      ) => {
        const name = opts.name.trim();
        const owner = opts.owner.trim();
        if (!name)
          throw new UsageError('--name must not be empty: name the agent, pipeline or service account');
        // The owner is who may never approve this key's requests: an empty one would protect nobody.
        if (!owner)
          throw new UsageError('--owner must not be empty: give the email of the human the agent acts for');
        if (!/^[^@\s]+@[^@\s]+$/.test(owner))
          process.stderr.write(
            `note: --owner '${owner}' is not an email; requests of this key are kept from the reviewer whose id or email is exactly that\n`,
          );
        const { credential, token } = await withAdmin(opts, (admin) =>
          admin.createActor({
            name,
            owner,
            expiresAt: expiry(opts.expires),
            allowedTypes: opts.allowType ?? null,
          }),
        );
        if (opts.json) return printJson({ ...view(credential), token });
        process.stdout.write(
          `created ${credential.id} (${credential.name}, on behalf of ${credential.owner})\n\n  ${token}\n\nThis key is shown once. Give it to the agent as COUNTERSIGN_TOKEN.\n`,
        );
      },
    );
  actors
    .command('list')
    .description('list agent keys')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action(async (opts: ConfigOption & { json?: boolean }) =>
      listCredentials(await withAdmin(opts, (a) => a.list('agent_key')), opts.json),
    );
  actors
    .command('revoke')
    .description('revoke an agent key at once')
    .argument('<id>', 'key id (csk_…), or the whole key; only its id is used or printed')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: ConfigOption & { json?: boolean }) => {
      const c = await withAdmin(opts, (a) => a.revoke(id, 'agent_key'));
      if (opts.json) return printJson(view(c));
      process.stdout.write(revokedLine(c));
    });

  const reviewers = program.command('reviewers').description('reviewers and their API tokens (operator)');
  reviewers
    .command('token')
    .description('issue a personal API token for a configured reviewer; printed once')
    .argument('<reviewer>', 'reviewer id from the configuration')
    .option('--expires <duration>', 'token lifetime, e.g. 30d')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action(async (reviewer: string, opts: ConfigOption & { expires?: string; json?: boolean }) => {
      const { credential, token } = await withAdmin(opts, (admin, config) =>
        admin.issueReviewerToken(directoryFor(config), reviewer, expiry(opts.expires)),
      );
      if (opts.json) return printJson({ ...view(credential), token });
      process.stdout.write(
        `issued ${credential.id} for ${credential.owner}\n\n  ${token}\n\nThis token is shown once.\n`,
      );
    });
  reviewers
    .command('list')
    .description('configured reviewers and their groups')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action((opts: ConfigOption & { json?: boolean }) => {
      const list = directoryFor(resolveConfig(opts)).list();
      if (opts.json) return printJson(list);
      process.stdout.write(
        `${table([['ID', 'EMAIL', 'GROUPS'], ...list.map((r) => [r.id, r.email, r.groups.join(', ')])])}\n`,
      );
    });
  reviewers
    .command('tokens')
    .description('list issued reviewer tokens')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action(async (opts: ConfigOption & { json?: boolean }) =>
      listCredentials(await withAdmin(opts, (a) => a.list('reviewer_token')), opts.json),
    );
  reviewers
    .command('revoke')
    .description('revoke a reviewer token')
    .argument('<id>', 'token id (csr_…), or the whole token; only its id is used or printed')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: ConfigOption & { json?: boolean }) => {
      const c = await withAdmin(opts, (a) => a.revoke(id, 'reviewer_token'));
      if (opts.json) return printJson(view(c));
      process.stdout.write(revokedLine(c));
    });
}
