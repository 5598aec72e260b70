import type { Command } from 'commander';
import { type ClientFlags, clientFrom, clientHelp } from '../context.js';
import { jsonObjectArg } from '../files.js';
import { exit, integerIn, printJson, UsageError } from '../output.js';

function parseParams(text: string | undefined): Record<string, unknown> {
  return text === undefined ? {} : jsonObjectArg('--params', text);
}

const refused = new Set(['denied', 'rejected', 'expired', 'cancelled', 'failed']);

/** The documented exit code for where a request stands (docs/cli.md). */
function exitFor(status: string): number {
  return status === 'pending' ? exit.pending : refused.has(status) ? exit.refused : exit.ok;
}

/** Commands an agent runs with its key: submit, cancel, result. */
export function agentCommands(program: Command): void {
  program
    .command('submit')
    .description('submit an action as an agent; with --wait, wait for the decision')
    .requiredOption('--type <type>', 'dotted action type, e.g. aws.iam.attach_role_policy')
    .requiredOption('--resource <resource>', 'what it touches, e.g. prod/iam/role/deployer')
    .requiredOption('--justification <text>', 'why, shown to reviewers')
    .option('--params <json>', 'action parameters as a JSON object, or @file')
    .option(
      '--wait <seconds>',
      'wait up to this long for a pending request to be decided',
      integerIn(0, 86_400),
    )
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print the request as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 allowed or approved, 3 denied/rejected/expired/cancelled, 4 still pending, 5 refused by the API, 1 other errors, 2 bad usage.',
    )
    .action(
      async (
        opts: ClientFlags & {
          type: string;
          resource: string;
          justification: string;
          params?: string;
          wait?: number;
          json?: boolean;
        },
      ) => {
        // The command line is checked before the credential, so one run reports what to fix in it.
        const params = parseParams(opts.params);
        const client = clientFrom(opts);
        let view = await client.submit({
          type: opts.type,
          resource: opts.resource,
          justification: opts.justification,
          params,
        });
        if (view.status === 'pending' && opts.wait && opts.wait > 0) {
          if (!opts.json)
            process.stderr.write(`pending ${view.id}: waiting up to ${opts.wait}s for reviewers…\n`);
          view = await client.waitForDecision(view.id, opts.wait);
        }
        if (opts.json) printJson(view);
        else process.stdout.write(`${view.status} ${view.id}\n  ${view.reason}\n  hash ${view.hash}\n`);
        process.exitCode = exitFor(view.status);
      },
    );

  program
    .command('wait')
    .description('wait for a request to leave pending')
    .argument('<id>', 'request id')
    .option('--timeout <seconds>', 'give up after this long', integerIn(1, 86_400), 60)
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print the request as JSON')
    .action(async (id: string, opts: ClientFlags & { timeout: number; json?: boolean }) => {
      const view = await clientFrom(opts).waitForDecision(id, opts.timeout);
      if (opts.json) printJson(view);
      else process.stdout.write(`${view.status} ${view.id}\n`);
      process.exitCode = exitFor(view.status);
    });

  program
    .command('cancel')
    .description('withdraw a pending request (its agent only)')
    .argument('<id>', 'request id')
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print the request as JSON')
    .action(async (id: string, opts: ClientFlags & { json?: boolean }) => {
      const view = await clientFrom(opts).cancel(id);
      if (opts.json) printJson(view);
      else process.stdout.write(`${view.status} ${view.id}\n`);
    });

  program
    .command('result')
    .description(
      'record the outcome of running an allowed or approved action (once, same hash, within validity)',
    )
    .argument('<id>', 'request id')
    .requiredOption('--outcome <outcome>', 'succeeded or failed')
    .option(
      '--hash <hash>',
      'hash of the action that ran (default: the request hash as read from the gateway)',
    )
    .option('--detail <text>', 'what happened')
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print the request as JSON')
    .action(
      async (
        id: string,
        opts: ClientFlags & { outcome: string; hash?: string; detail?: string; json?: boolean },
      ) => {
        if (opts.outcome !== 'succeeded' && opts.outcome !== 'failed')
          throw new UsageError('--outcome must be succeeded or failed');
        const client = clientFrom(opts);
        const hash = opts.hash ?? (await client.get(id)).hash;
        const view = await client.result(id, opts.outcome, hash, opts.detail);
        if (opts.json) printJson(view);
        else process.stdout.write(`${view.status} ${view.id}\n`);
      },
    );
}
