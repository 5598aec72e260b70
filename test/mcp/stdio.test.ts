import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  repoRoot,
  requestIdIn,
  secretValue,
  startGateway,
  type TestGateway,
  textOf,
  upstreamCalls,
} from './harness.js';

const cli = ['--import', 'tsx', `${repoRoot}src/cli/main.ts`, 'mcp', '--server', 'fixture'];

/** `countersign mcp --server fixture` as an agent launches it; what it writes on stderr lands in `stderr`. */
function bridgeTransport(t: TestGateway, token: string | undefined, stderr: string[]): StdioClientTransport {
  const env: Record<string, string> = { ...getDefaultEnvironment(), COUNTERSIGN_URL: t.url };
  if (token) env.COUNTERSIGN_TOKEN = token;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: cli,
    env,
    cwd: repoRoot,
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  return transport;
}

/** The agent side: launches the bridge as its MCP server, like Claude Desktop would. */
async function stdioClient(
  t: TestGateway,
  token: string | undefined,
  stderr: string[] = [],
): Promise<Client> {
  const client = new Client({ name: 'stdio-agent', version: '1.0.0' });
  await client.connect(bridgeTransport(t, token, stderr));
  return client;
}

/** Resolves once the process has exited, so everything it wrote on stderr has been read. */
function exited(pid: number | null): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => {
      try {
        if (pid === null) throw new Error('no process');
        process.kill(pid, 0);
        setTimeout(poll, 20);
      } catch {
        resolve();
      }
    };
    poll();
  });
}

describe('MCP gateway over stdio: `countersign mcp --server NAME` as a separate process', () => {
  let t: TestGateway;
  let client: Client;

  beforeAll(async () => {
    t = await startGateway();
    client = await stdioClient(t, t.agentKey);
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  it('lists tools with the await tool and forwards an allowed call', async () => {
    const names = (await client.listTools()).tools.map((x) => x.name);
    expect(names).toContain('countersign_await_decision');
    const result = await client.callTool({ name: 'echo', arguments: { text: 'over stdio' } });
    expect(JSON.parse(textOf(result))).toEqual({ text: 'over stdio' });
  });

  it('refuses a denied call', async () => {
    const result = await client.callTool({ name: 'drop_database', arguments: { name: 'x' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('Refused by Countersign');
  });

  it('holds a pending call with progress and runs it after approval', async () => {
    let decided: Promise<unknown> | undefined;
    const result = await client.request(
      { method: 'tools/call', params: { name: 'delete_file', arguments: { path: '/stdio/x' } } },
      CallToolResultSchema,
      {
        onprogress: (p) => {
          decided ??= t.gw.service.review(requestIdIn(p.message ?? ''), t.reviewer, 'approve', 'ok', 'test');
        },
      },
    );
    await decided;
    expect(textOf(result)).toBe('deleted /stdio/x');
    expect(upstreamCalls(t).filter((c) => c.args.path === '/stdio/x')).toHaveLength(1);
  });

  it('the upstream runs beside the gateway: the bridge process never has the upstream secret', async () => {
    const result = await client.callTool({ name: 'secret', arguments: {} });
    expect(textOf(result)).toContain(secretValue);
    // The upstream is a child of the gateway (this test process), not of the bridge the agent
    // launched, which was given only the agent key and the gateway URL.
    expect(textOf(result)).toContain(`parent pid ${process.pid}`);
  });

  it('survives a gateway restart: the bridge opens a new session by replaying the handshake', async () => {
    const own = await stdioClient(t, t.agentKey);
    try {
      expect(textOf(await own.callTool({ name: 'echo', arguments: { text: 'before' } }))).toContain('before');
      await t.restart();
      const after = await own.callTool({ name: 'echo', arguments: { text: 'after restart' } });
      expect(textOf(after)).toContain('after restart');
    } finally {
      await own.close();
    }
  });

  it('with an invalid key, every request fails with an error saying to fix COUNTERSIGN_TOKEN', async () => {
    const stderr: string[] = [];
    const transport = bridgeTransport(t, 'csk_nope_nope', stderr);
    const client = new Client({ name: 'stdio-agent', version: '1.0.0' });
    await expect(client.connect(transport)).rejects.toThrow(/COUNTERSIGN_TOKEN/);
    const pid = transport.pid;
    await client.close();
    await exited(pid);
    // Told once for the failed request, not a second time by the transport.
    expect(stderr.join('').match(/refused the agent key/g)).toHaveLength(1);
  });

  it('a session that ends normally leaves stderr empty', async () => {
    const stderr: string[] = [];
    const transport = bridgeTransport(t, t.agentKey, stderr);
    const own = new Client({ name: 'stdio-agent', version: '1.0.0' });
    await own.connect(transport);
    expect(textOf(await own.callTool({ name: 'echo', arguments: { text: 'quiet' } }))).toContain('quiet');
    const pid = transport.pid;
    await own.close();
    await exited(pid);
    expect(stderr.join('')).toBe('');
  });

  it('without any key, the command exits with a usage error', async () => {
    const child = spawn(process.execPath, cli, {
      cwd: repoRoot,
      env: { ...getDefaultEnvironment(), COUNTERSIGN_URL: t.url },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('COUNTERSIGN_TOKEN');
  });

  it('answers a malformed line with a parse error and keeps serving', async () => {
    const child = spawn(process.execPath, cli, {
      cwd: repoRoot,
      env: { ...getDefaultEnvironment(), COUNTERSIGN_URL: t.url, COUNTERSIGN_TOKEN: t.agentKey },
    });
    const lines = createInterface({ input: child.stdout });
    const received: Array<Record<string, unknown>> = [];
    const next = () =>
      new Promise<Record<string, unknown>>((resolve) => {
        const queued = received.shift();
        if (queued) return resolve(queued);
        lines.once('line', (l) => resolve(JSON.parse(l)));
      });
    try {
      child.stdin.write('this is not json\n');
      const parseError = await next();
      expect((parseError.error as { code: number }).code).toBe(-32700);
      child.stdin.write(
        `${JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'raw', version: '1' },
          },
        })}\n`,
      );
      const init = await next();
      expect(init.id).toBe(1);
      expect(init.result).toBeDefined();
    } finally {
      child.stdin.end();
      await new Promise((resolve) => child.on('exit', resolve));
    }
  });
});
