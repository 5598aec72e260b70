import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import type { Reviewer } from '../../src/core/identity.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';

export const here = fileURLToPath(new URL('.', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const fixtureServer = join(here, 'fixture-server.mjs');
export const everythingServer = join(
  repoRoot,
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);
export const secretValue = 'sk-upstream-secret-7f3a9c';

export interface TestGateway {
  gw: Gateway;
  url: string;
  agentKey: string;
  otherAgentKey: string;
  reviewerToken: string;
  reviewer: Reviewer;
  callLog: string;
  close(): Promise<void>;
  /** Stops the gateway and starts a new one on the same port and store: every session is lost. */
  restart(): Promise<void>;
}

export interface GatewayOptions {
  hold?: string;
  hideDeniedTools?: boolean;
  clock?: Clock;
  extraUpstreams?: string;
  maxMessageBytes?: number;
  upstreamTimeout?: string;
}

/** A real gateway on 127.0.0.1:0 with the fixture and the npm "everything" server as stdio upstreams. */
export async function startGateway(o: GatewayOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-mcp-'));
  const callLog = join(dir, 'calls.jsonl');
  writeFileSync(callLog, '');
  const file = join(dir, 'countersign.yaml');
  writeFileSync(
    file,
    `
dataDir: ./data
policy: { files: [${JSON.stringify(join(here, 'policy.yaml'))}] }
server: { logLevel: silent }
reviewers:
  - { id: rita@example.com, email: rita@example.com, groups: [sre] }
mcp:
  hold: ${o.hold ?? '20s'}
  denyRepeatWindow: 10m
  hideDeniedTools: ${o.hideDeniedTools ?? false}
  maxMessageBytes: ${o.maxMessageBytes ?? 65536}
  upstreamTimeout: ${o.upstreamTimeout ?? '60s'}
  upstreams:
    fixture:
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(fixtureServer)}]
      env: { FIXTURE_SECRET: "\${TEST_FIXTURE_SECRET}", FIXTURE_LOG: ${JSON.stringify(callLog)} }
    everything:
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(everythingServer)}, stdio]
${o.extraUpstreams ?? ''}
`,
  );
  const config = loadConfig(file, { ...process.env, TEST_FIXTURE_SECRET: secretValue });
  const gw = await createGateway(config, o.clock);
  const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const agent = await gw.admin.createActor({ name: 'test-agent', owner: 'dev@example.com' });
  const other = await gw.admin.createActor({ name: 'other-agent', owner: 'eve@example.com' });
  const reviewer = gw.directory.get('rita@example.com') as Reviewer;
  const reviewerToken = (await gw.admin.issueReviewerToken(gw.directory, reviewer.id)).token;
  const t: TestGateway = {
    gw,
    url,
    agentKey: agent.token,
    otherAgentKey: other.token,
    reviewerToken,
    reviewer,
    callLog,
    close: () => t.gw.close(),
    restart: async () => {
      await t.gw.close();
      t.gw = await createGateway(config, o.clock);
      await t.gw.app.listen({ host: '127.0.0.1', port: Number(new URL(url).port) });
    },
  };
  return t;
}

/** An SDK client connected to the gateway's /mcp/NAME with a bearer token. */
export async function httpClient(t: TestGateway, server = 'fixture', token = t.agentKey): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`/mcp/${server}`, t.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** Tool calls a fixture server appended to its call log (`FIXTURE_LOG`). */
export function callsIn(log: string): Array<{ name: string; args: Record<string, unknown> }> {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { name: string; args: Record<string, unknown> });
}

/** Tool calls the fixture server actually received. */
export const upstreamCalls = (t: TestGateway) => callsIn(t.callLog);

export function textOf(result: unknown): string {
  const r = result as CallToolResult;
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

export const requestIdIn = (s: string): string => {
  const m = /req_[A-Za-z0-9_-]+/.exec(s);
  if (!m) throw new Error(`no request id in: ${s}`);
  return m[0];
};

/** Results are recorded just after the reply goes back; wait for the last one before reading state. */
export const recorded = async (t: TestGateway): Promise<void> => {
  await t.gw.mcp?.guard.recorded;
};

/**
 * The fixture server over Streamable HTTP in its own process, appending every call it receives to
 * `log` (a fresh file unless given).
 */
export async function httpFixture(
  log = join(mkdtempSync(join(tmpdir(), 'cs-mcp-http-')), 'calls.jsonl'),
): Promise<{ url: string; log: string; child: ChildProcess }> {
  writeFileSync(log, '');
  const child = spawn(process.execPath, [fixtureServer, '--http'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FIXTURE_LOG: log },
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the HTTP fixture exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
  return { url: `http://127.0.0.1:${port.trim()}/mcp`, log, child };
}
