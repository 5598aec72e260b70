import { type Command, InvalidArgumentError } from 'commander';
import { type RequestStatus, requestIdPattern, requestStatuses } from '../../core/request.js';
import { type ClientFlags, clientFrom, clientHelp } from '../context.js';
import { quorum, requestDetail, requestTable } from '../format.js';
import { integerIn, printJson, UsageError } from '../output.js';

/** `--before`: a request id, checked here so a typo is bad usage (exit 2) rather than a 400. */
function requestId(value: string): string {
  if (!requestIdPattern.test(value))
    throw new InvalidArgumentError(
      'expected a request id (req_ and 26 characters of 0-9 and lower-case letters), such as the last id of the previous page',
    );
  return value;
}

/**
 * `--status`, checked before anything is sent: the gateway would answer a typo with one schema
 * error per status it accepts.
 */
function requestStatus(value: string): RequestStatus {
  const status = requestStatuses.find((s) => s === value);
  if (status) return status;
  throw new UsageError(
    `--status '${value}' is not a request status; give one of ${requestStatuses.join(', ')}`,
    '--status',
  );
}

/** Commands a reviewer runs with a reviewer token, and read access to requests. */
export function reviewCommands(program: Command): void {
  const review = program.command('review').description('vote on pending requests (reviewer token)');
  for (const vote of ['approve', 'deny'] as const) {
    review
      .command(vote)
      .description(`${vote} a pending request`)
      .argument('<id>', 'request id')
      .option(
        '-m, --comment <text>',
        vote === 'deny' ? 'why (required for deny)' : 'comment for the audit trail',
      )
      .option(...clientHelp.url)
      .option(...clientHelp.token)
      .option('--json', 'print the request as JSON')
      .addHelpText(
        'after',
        '\nExit codes: 0 vote counted, 5 refused (self-approval, not eligible, already voted, no longer pending), 1 other errors.',
      )
      .action(async (id: string, opts: ClientFlags & { comment?: string; json?: boolean }) => {
        if (vote === 'deny' && !opts.comment)
          throw new UsageError('deny needs --comment with the reason, which the requester sees');
        const view = await clientFrom(opts).review(id, vote, opts.comment);
        if (opts.json) printJson(view);
        else
          process.stdout.write(
            `${vote === 'approve' ? 'approved' : 'denied'} by you; request ${view.id} is now ${view.status} (quorum ${quorum(view)})\n`,
          );
      });
  }
  review
    .command('pending')
    .description('requests you may vote on, newest first')
    .option('--limit <n>', 'at most this many (1 to 100)', integerIn(1, 100), 100)
    .option(
      '--before <id>',
      'only requests older than this one (the next page: the id printed after more:)',
      requestId,
    )
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nPaging: when older pending requests remain, a line `more: --before ID` goes to stderr (also with\n--json, whose stdout stays a plain array); run the command again with that --before to read the\nnext page. A page may list fewer than --limit requests, even none, and still print more:.',
    )
    .action(async (opts: ClientFlags & { limit: number; before?: string; json?: boolean }) => {
      const { items, next } = await clientFrom(opts).pendingReviews({
        limit: opts.limit,
        ...(opts.before ? { before: opts.before } : {}),
      });
      if (opts.json) printJson(items);
      else process.stdout.write(`${requestTable(items)}\n`);
      if (next) process.stderr.write(`more: --before ${next}\n`);
    });

  const requests = program
    .command('requests')
    .description('read requests (an agent sees its own, a reviewer all)');
  requests
    .command('list')
    .description('list requests, newest first')
    .option('--status <status>', `only this status: ${requestStatuses.join(', ')}`, requestStatus)
    .option('--limit <n>', 'at most this many (1 to 500)', integerIn(1, 500), 50)
    .option(
      '--before <id>',
      'only requests older than this one (the next page: the id printed after more:)',
      requestId,
    )
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nPaging: when older requests remain, a line `more: --before ID` goes to stderr (also with --json,\nwhose stdout stays a plain array); run the command again with that --before to read the next page.',
    )
    .action(
      async (
        opts: ClientFlags & { status?: RequestStatus; limit: number; before?: string; json?: boolean },
      ) => {
        const { items, next } = await clientFrom(opts).list({
          limit: opts.limit,
          ...(opts.status ? { status: opts.status } : {}),
          ...(opts.before ? { before: opts.before } : {}),
        });
        if (opts.json) printJson(items);
        else process.stdout.write(`${requestTable(items)}\n`);
        if (next) process.stderr.write(`more: --before ${next}\n`);
      },
    );
  requests
    .command('show')
    .description('one request with its reviews and audit trail')
    .argument('<id>', 'request id')
    .option(...clientHelp.url)
    .option(...clientHelp.token)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: ClientFlags & { json?: boolean }) => {
      const client = clientFrom(opts);
      const [view, events] = await Promise.all([client.get(id), client.events(id)]);
      if (opts.json) printJson({ request: view, events: events.items });
      else process.stdout.write(`${requestDetail(view, events.items)}\n`);
    });
}
