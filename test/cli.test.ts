import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { requestStatuses } from '../src/core/request.js';
import { iamAction, startGateway, type TestGateway } from './support/gateway.js';
import { cliArgs, runCli } from './support/process.js';

const cli = runCli;

let t: TestGateway;
let env: (token: string) => Record<string, string>;
beforeAll(async () => {
  t = await startGateway();
  env = (token) => ({ COUNTERSIGN_URL: t.url, COUNTERSIGN_TOKEN: token });
});
afterAll(async () => {
  await t.close();
});

// Each case spawns the CLI from source several times: on a slow 2-core host under the full suite
// one spawn took 4 s, and the longest case (8 spawns) ran past the default 30 s. A time limit
// is only a safety net here; nothing below asserts on how long anything takes.
describe('countersign CLI', { timeout: 120_000 }, () => {
  it('has --help on every command', () => {
    const walk = (c: Command): Command[] => [c, ...c.commands.flatMap(walk)];
    const all = walk(buildProgram());
    expect(all.length).toBeGreaterThan(15);
    for (const c of all) {
      const help = c.helpInformation();
      expect(help).toContain('Usage:');
      expect(c.description().length).toBeGreaterThan(5);
    }
  });

  it('submits, reviews and shows a request, with documented exit codes', async () => {
    const sub = await cli(
      [
        'submit',
        '--type',
        iamAction.type,
        '--resource',
        iamAction.resource,
        '--params',
        JSON.stringify(iamAction.params),
        '--justification',
        'cli test',
        '--json',
      ],
      env(t.agent),
    );
    expect(sub.code).toBe(4); // pending
    const id = JSON.parse(sub.out).id as string;

    const self = await cli(['review', 'approve', id], env(t.reviewers.dana));
    expect(self.code).toBe(5);
    expect(self.err).toContain('Self-approval refused');
    expect(self.err).toContain('hint:');

    const first = await cli(['review', 'approve', id, '-m', 'ok'], env(t.reviewers.alice));
    expect(first.code).toBe(0);
    expect(first.out).toContain(
      `approved by you; request ${id} is now pending (quorum 1/2 of sre|security-leads)`,
    );
    const second = await cli(['review', 'approve', id], env(t.reviewers.bob));
    expect(second.out).toContain(`request ${id} is now approved (quorum 2/2 of sre|security-leads)`);

    const show = await cli(['requests', 'show', id], env(t.reviewers.alice));
    expect(show.code).toBe(0);
    for (const text of [
      'status      approved',
      'request.submitted',
      'review.refused',
      'review.cast',
      'request.approved',
      'alice@example.com',
    ])
      expect(show.out).toContain(text);
    // One column per field, whatever the number of digits in the entry indexes.
    const trail = show.out.split('audit trail\n')[1]!.trimEnd().split('\n');
    expect(new Set(trail.map((line) => line.search(/\d{4}-\d\d-\d\dT/))).size).toBe(1);

    const json = JSON.parse((await cli(['requests', 'show', id, '--json'], env(t.agent))).out);
    expect(json.events.map((e: any) => e.kind)).toContain('request.approved');

    expect((await cli(['result', id, '--outcome', 'succeeded'], env(t.agent))).out).toContain('executed');
  });

  it('exits 0 for allowed, 3 for denied, 2 for bad usage, 1 when the gateway is unreachable', async () => {
    expect(
      (await cli(['submit', '--type', 's3.read', '--resource', 'r', '--justification', 'j'], env(t.agent)))
        .code,
    ).toBe(0);
    expect(
      (await cli(['submit', '--type', 'db.drop', '--resource', 'r', '--justification', 'j'], env(t.agent)))
        .code,
    ).toBe(3);
    expect(
      (
        await cli(
          ['submit', '--type', 'x.y', '--resource', 'r', '--justification', 'j', '--params', '[1]'],
          env(t.agent),
        )
      ).code,
    ).toBe(2);
    expect((await cli(['submit', '--resource', 'r'], env(t.agent))).code).toBe(2);
    const down = await cli(['submit', '--type', 'x.y', '--resource', 'r', '--justification', 'j'], {
      COUNTERSIGN_URL: 'http://127.0.0.1:9',
      COUNTERSIGN_TOKEN: t.agent,
    });
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach the gateway');
  });

  it('waits for a decision with submit --wait', async () => {
    const pending = cli(
      [
        'submit',
        '--type',
        'deploy.api',
        '--resource',
        'prod/api',
        '--justification',
        'j',
        '--wait',
        '30',
        '--json',
      ],
      env(t.agent),
    );
    let id: string | undefined;
    while (!id) {
      const items = (await t.call('GET', '/v1/reviews/pending', t.reviewers.alice)).body.items as any[];
      id = items.find((i) => i.action.type === 'deploy.api')?.id;
    }
    await t.call('POST', `/v1/actions/${id}/reviews`, t.reviewers.alice, {
      vote: 'deny',
      comment: 'not today',
    });
    const r = await pending;
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out).status).toBe('rejected');
  });

  it('creates, lists and revokes agent keys on the configured store, showing the key once', async () => {
    const made = await cli([
      'actors',
      'create',
      '--name',
      'ci',
      '--owner',
      'erin@example.com',
      '--allow-type',
      'deploy.*',
      '--json',
      '--config',
      t.configFile,
    ]);
    expect(made.code).toBe(0);
    const { id, token } = JSON.parse(made.out);
    expect(token).toMatch(/^csk_/);
    const list = await cli(['actors', 'list', '--config', t.configFile]);
    expect(list.out).toContain(id);
    expect(list.out).not.toContain(token.split('.')[1]);
    expect((await t.call('GET', '/v1/whoami', token)).body.principal).toBe('erin@example.com');
    expect((await cli(['actors', 'revoke', id, '--config', t.configFile])).code).toBe(0);
    expect((await t.call('GET', '/v1/whoami', token)).status).toBe(401);
  });

  it('attack: revoking by a pasted whole key works and never echoes its secret; the other kind is refused', async () => {
    const made = await cli([
      'actors',
      'create',
      '--name',
      'leaky',
      '--owner',
      'erin@example.com',
      '--json',
      '--config',
      t.configFile,
    ]);
    const { id, token } = JSON.parse(made.out) as { id: string; token: string };
    const secret = token.split('.')[1] as string;
    const wrongKind = await cli(['reviewers', 'revoke', token, '--config', t.configFile]);
    expect(wrongKind.code).toBe(5);
    expect(wrongKind.err).toContain(`${id} is an agent key; revoke it with \`countersign actors revoke\``);
    expect((await t.call('GET', '/v1/whoami', token)).status).toBe(200);
    const revoked = await cli(['actors', 'revoke', token, '--config', t.configFile]);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toBe(`revoked ${id}\n`);
    expect((await t.call('GET', '/v1/whoami', token)).status).toBe(401);
    const again = await cli(['actors', 'revoke', token, '--config', t.configFile]);
    expect(again.out).toMatch(new RegExp(`^${id} was already revoked at \\d{4}-`));
    const unknown = await cli([
      'actors',
      'revoke',
      `csk_${'0'.repeat(26)}.${secret}`,
      '--config',
      t.configFile,
    ]);
    expect(unknown.code).toBe(5);
    for (const r of [wrongKind, revoked, again, unknown]) expect(r.out + r.err).not.toContain(secret);
  });

  it('refuses an agent key without a name or owner, and a credential that expires at once', async () => {
    const base = ['actors', 'create', '--config', t.configFile];
    const noName = await cli([...base, '--name', ' ', '--owner', 'erin@example.com']);
    expect(noName.code).toBe(2);
    expect(noName.err).toContain('--name must not be empty');
    const noOwner = await cli([...base, '--name', 'x', '--owner', '']);
    expect(noOwner.code).toBe(2);
    expect(noOwner.err).toContain('--owner must not be empty');
    const notEmail = await cli([...base, '--name', 'x', '--owner', 'erin', '--json']);
    expect(notEmail.code).toBe(0);
    expect(notEmail.err).toContain("--owner 'erin' is not an email");
    const expired = await cli([
      'reviewers',
      'token',
      'alice@example.com',
      '--expires',
      '0d',
      '--config',
      t.configFile,
    ]);
    expect(expired.code).toBe(2);
    expect(expired.err).toContain('--expires must be a positive duration');
  });

  it('refuses numbers that are not whole or not in range, with exit 2, before asking the gateway', async () => {
    for (const args of [
      ['requests', 'list', '--limit', 'abc'],
      ['requests', 'list', '--limit', '0'],
      ['wait', 'req_x', '--timeout', '-1'],
      ['submit', '--type', 'a.b', '--resource', 'r', '--justification', 'j', '--wait', 'soon'],
    ]) {
      const r = await cli(args, env(t.agent));
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain('expected a whole number from');
    }
  });

  it('pages past one page of requests with --before, as the more: line says', async () => {
    // A fresh agent sees only its own requests: exactly these seven.
    const { token } = await t.gw.admin.createActor({ name: 'pager', owner: 'p@example.com' });
    const submitted: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await t.call('POST', '/v1/actions', token, {
        type: 's3.read',
        resource: `bucket/${i}`,
        justification: 'paging',
      });
      submitted.unshift(r.body.id);
    }
    const pages: string[][] = [];
    let before: string[] = [];
    for (;;) {
      const r = await cli(['requests', 'list', '--limit', '3', '--json', ...before], env(token));
      expect(r.code).toBe(0);
      pages.push((JSON.parse(r.out) as Array<{ id: string }>).map((v) => v.id));
      const more = /^more: --before (\S+)$/m.exec(r.err);
      if (!more) break;
      expect(more[1]).toBe(pages.at(-1)?.at(-1));
      before = ['--before', more[1] as string];
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(submitted);
    // The table goes to stdout, the hint to stderr; the last page has none.
    const table = await cli(
      ['requests', 'list', '--limit', '3', '--before', submitted[2] as string],
      env(token),
    );
    expect(table.out).toContain(submitted[3]);
    expect(table.out).not.toContain(submitted[2]);
    expect(table.err).toBe(`more: --before ${submitted[5]}\n`);
    const last = await cli(
      ['requests', 'list', '--limit', '4', '--before', submitted[2] as string],
      env(token),
    );
    expect(last.err).toBe('');
  });

  it('pages through the pending reviews with review pending --limit and the more: line', async () => {
    for (let i = 0; i < 5; i++) await t.call('POST', '/v1/actions', t.agent, iamAction);
    const all = (await t.call('GET', '/v1/reviews/pending', t.reviewers.alice)).body.items.map(
      (i: { id: string }) => i.id,
    );
    expect(all.length).toBeGreaterThanOrEqual(5);
    const pages: string[][] = [];
    let before: string[] = [];
    for (;;) {
      const r = await cli(['review', 'pending', '--limit', '2', '--json', ...before], env(t.reviewers.alice));
      expect(r.code).toBe(0);
      pages.push((JSON.parse(r.out) as Array<{ id: string }>).map((v) => v.id));
      const more = /^more: --before (\S+)$/m.exec(r.err);
      if (!more) break;
      before = ['--before', more[1] as string];
    }
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    expect(pages.flat()).toEqual(all);
    const bad = await cli(['review', 'pending', '--limit', '101'], env(t.reviewers.alice));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('expected a whole number from');
  });

  it('refuses a --before that is not a request id with exit 2, before asking the gateway', async () => {
    for (const bad of ['42', 'req_nope', 'REQ_01J0000000000000000000000A']) {
      const r = await cli(['requests', 'list', '--before', bad], {
        COUNTERSIGN_URL: 'http://127.0.0.1:9',
        COUNTERSIGN_TOKEN: t.agent,
      });
      expect(r.code, bad).toBe(2);
      expect(r.err, bad).toContain('expected a request id');
    }
  });

  it('refuses an unknown --status in one line naming it and every status, exit 2, before asking the gateway', async () => {
    const unreachable = { COUNTERSIGN_URL: 'http://127.0.0.1:9', COUNTERSIGN_TOKEN: t.agent };
    const r = await cli(['requests', 'list', '--status', 'bogus'], unreachable);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `error: --status 'bogus' is not a request status; give one of ${requestStatuses.join(', ')}\n`,
    );
    const sub = await cli(
      ['submit', '--type', iamAction.type, '--resource', 'r', '--justification', 'j', '--json'],
      env(t.agent),
    );
    const listed = await cli(['requests', 'list', '--status', 'pending', '--json'], env(t.agent));
    expect(listed.code).toBe(0);
    const items = JSON.parse(listed.out) as Array<{ id: string; status: string }>;
    expect(items.map((i) => i.id)).toContain(JSON.parse(sub.out).id);
    expect(new Set(items.map((i) => i.status))).toEqual(new Set(['pending']));
  });

  it('says which file argument cannot be used and why, in one line with exit 2', async () => {
    const unreachable = { COUNTERSIGN_URL: 'http://127.0.0.1:9', COUNTERSIGN_TOKEN: t.agent };
    const missing = join(t.dir, 'missing.json');
    const params = await cli(
      ['submit', '--type', 'x.y', '--resource', 'r', '--justification', 'j', '--params', `@${missing}`],
      unreachable,
    );
    expect(params.code).toBe(2);
    expect(params.err).toBe(
      `error: ${missing}: cannot read the --params file (no such file or directory); check the path after @, or pass the JSON object itself\n`,
    );
    const file = join(t.dir, 'a-regular-file');
    writeFileSync(file, '');
    const init = await cli(['init', '--dir', join(file, 'sub')]);
    expect(init.code).toBe(2);
    expect(init.err).toBe(
      `error: ${join(file, 'sub', '.countersign')}: cannot create the data directory (a part of the path is a file, not a directory); choose a --dir that is a directory you can write to, or one to create\n`,
    );
  });

  it('with --json prints one JSON failure on stdout, whatever failed, with the documented exit code', async () => {
    const cases = [
      { args: ['requests', 'show', 'req_none', '--json'], code: 5, error: 'CS_ERR_NOT_FOUND' },
      { args: ['requests', 'list', '--limit', '0', '--json'], code: 2, error: 'usage' },
      { args: ['requests', 'list', '--status', 'bogus', '--json'], code: 2, error: 'usage' },
      { args: ['submit', '--type', 'x.y', '--resource', 'r', '--json'], code: 2, error: 'usage' },
    ];
    for (const c of cases) {
      const r = await cli(c.args, env(t.agent));
      expect({ args: c.args, code: r.code }).toEqual({ args: c.args, code: c.code });
      const doc = JSON.parse(r.out);
      expect(doc).toMatchObject({ ok: false, error: { code: c.error } });
      // The human message is on stderr still, and says the same.
      expect(r.err).toContain(`error: ${doc.error.message}`);
    }
    const down = await cli(['requests', 'list', '--json'], {
      COUNTERSIGN_URL: 'http://127.0.0.1:9',
      COUNTERSIGN_TOKEN: t.agent,
    });
    expect(down.code).toBe(1);
    expect(JSON.parse(down.out).error.code).toBe('unreachable');
  });

  it('hints at the command to run, not at the HTTP API', async () => {
    const sub = await cli(
      ['submit', '--type', iamAction.type, '--resource', 'r', '--justification', 'j', '--json'],
      env(t.agent),
    );
    const id = JSON.parse(sub.out).id as string;
    const early = await cli(['result', id, '--outcome', 'succeeded'], env(t.agent));
    expect(early.code).toBe(5);
    expect(early.err).toContain(`request ${id} is pending; only an allowed or approved action can run`);
    expect(early.err).toContain('hint: see where the request stands with `countersign requests show <id>`');
    const stranger = await cli(['requests', 'list'], env('csk_unknown.secret'));
    expect(stranger.code).toBe(5);
    expect(stranger.err).toContain('hint: pass --token or set COUNTERSIGN_TOKEN');
    for (const r of [early, stranger]) expect(r.err).not.toMatch(/\/v1\/|Authorization/);
  });

  it('run where no gateway keeps its store, an operator command says so and keeps the new store private', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cs-cli-empty-'));
    try {
      const r = await cli(['actors', 'list'], {}, empty);
      expect(r.code).toBe(0);
      expect(r.err).toContain(
        `note: no store at ${join(empty, '.countersign', 'countersign.db')} yet; creating one`,
      );
      expect(statSync(join(empty, '.countersign')).mode & 0o777).toBe(0o700);
      const again = await cli(['actors', 'list'], {}, empty);
      expect(again.err).not.toContain('no store at');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('stops quietly when its output pipe is closed early (countersign --help | head)', async () => {
    const child = spawn(process.execPath, [...cliArgs, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader goes away before the first line is written.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('issues reviewer tokens only for configured reviewers', async () => {
    const ok = await cli(['reviewers', 'token', 'alice@example.com', '--json', '--config', t.configFile]);
    expect(JSON.parse(ok.out).token).toMatch(/^csr_/);
    const nope = await cli(['reviewers', 'token', 'nobody@example.com', '--config', t.configFile]);
    expect(nope.code).toBe(5);
    expect(nope.err).toContain('not a configured reviewer');
  });

  it('reports a broken configuration with file:line and exit code 2', async () => {
    const bad = join(t.dir, 'bad.yaml');
    writeFileSync(bad, 'server:\n  prot: 1\n');
    const r = await cli(['actors', 'list', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('bad.yaml:2:3: unknown key');
  });

  it('init writes a working configuration, policy and a private signing key', async () => {
    const dir = join(t.dir, 'fresh');
    const r = await cli(['init', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(existsSync(out.config) && existsSync(out.policy)).toBe(true);
    expect(statSync(out.signingKey).mode & 0o777).toBe(0o600);
    expect((await cli(['init', '--dir', dir])).code).toBe(2);
    expect((await cli(['reviewers', 'list', '--config', out.config])).out).toContain('alice@example.com');
  });
});
