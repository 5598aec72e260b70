import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  httpClient,
  recorded,
  requestIdIn,
  secretValue,
  startGateway,
  type TestGateway,
  textOf,
  upstreamCalls,
} from './harness.js';

/** Calls a tool with a progress token; approves (or denies) from the first progress notification. */
async function callAndDecide(
  t: TestGateway,
  client: Client,
  name: string,
  args: Record<string, unknown>,
  vote: 'approve' | 'deny',
) {
  let decided: Promise<unknown> | undefined;
  const progress: string[] = [];
  const result = await client.request(
    { method: 'tools/call', params: { name, arguments: args } },
    CallToolResultSchema,
    {
      onprogress: (p) => {
        progress.push(p.message ?? '');
        decided ??= t.gw.service.review(requestIdIn(p.message ?? ''), t.reviewer, vote, 'test', 'test');
      },
    },
  );
  await decided;
  return { result, progress };
}

describe('MCP gateway over Streamable HTTP', () => {
  let t: TestGateway;
  let client: Client;

  beforeAll(async () => {
    t = await startGateway();
    client = await httpClient(t);
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  it('forwards an allowed call and records the result against the request hash', async () => {
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(textOf(result))).toEqual({ text: 'hello' });
    await recorded(t);
    const [request] = await t.gw.service.list({ status: ['executed'], limit: 10 });
    expect(request?.action).toMatchObject({
      type: 'mcp.tools.call',
      resource: 'fixture/echo',
      params: { text: 'hello' },
    });
    const trail = await t.gw.service.trail(request?.id as string);
    expect(trail.map((e) => e.kind)).toEqual(['request.submitted', 'request.executed']);
    expect(trail[1]?.details).toMatchObject({ hash: request?.hash, outcome: 'succeeded' });
  });

  it('takes the justification from _meta and keeps it out of the hash', async () => {
    await client.callTool({
      name: 'echo',
      arguments: { text: 'why' },
      _meta: { 'countersign/justification': 'checking the echo tool for the user' },
    });
    await recorded(t);
    const [request] = await t.gw.service.list({ status: ['executed'], limit: 1 });
    expect(request?.action.justification).toBe('checking the echo tool for the user');
  });

  it('refuses a denied call with a plain tool error and never reaches the upstream', async () => {
    const result = await client.callTool({ name: 'drop_database', arguments: { name: 'prod' } });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toContain('Refused by Countersign');
    expect(text).toContain('denied by policy');
    expect(text).toContain('Do not retry');
    expect(text).toContain('never-drop');
    expect(upstreamCalls(t).some((c) => c.name === 'drop_database')).toBe(false);
  });

  it('holds a pending call with progress and runs it once a reviewer approves within the hold', async () => {
    const { result, progress } = await callAndDecide(t, client, 'delete_file', { path: '/tmp/a' }, 'approve');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toContain('Waiting for a human');
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('deleted /tmp/a');
    const calls = upstreamCalls(t).filter((c) => c.name === 'delete_file');
    expect(calls).toEqual([{ name: 'delete_file', args: { path: '/tmp/a' }, pid: expect.any(Number) }]);
  });

  it('refuses a pending call that a reviewer rejects within the hold', async () => {
    const { result } = await callAndDecide(t, client, 'delete_file', { path: '/etc/passwd' }, 'deny');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('a human reviewer rejected');
    expect(upstreamCalls(t).some((c) => c.args.path === '/etc/passwd')).toBe(false);
  });

  it('refuses an identical call after a rejection at once, without opening a new review', async () => {
    const before = await t.gw.service.list({ status: ['pending'], limit: 100 });
    const result = await client.callTool({ name: 'delete_file', arguments: { path: '/etc/passwd' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('without a new review');
    const after = await t.gw.service.list({ status: ['pending'], limit: 100 });
    expect(after.length).toBe(before.length);
    // A different call is not covered by the rejection: it gets its own review.
    const { result: other } = await callAndDecide(t, client, 'delete_file', { path: '/tmp/b' }, 'approve');
    expect(textOf(other)).toBe('deleted /tmp/b');
  });

  it('keeps upstream secrets in the gateway: the upstream has them, no response or log line names them', async () => {
    const result = await client.callTool({ name: 'secret', arguments: {} });
    // The upstream was given the secret through the gateway's env...
    expect(textOf(result)).toContain(secretValue);
    // ...but the MCP session never exposes the configuration.
    const tools = await client.listTools();
    expect(JSON.stringify(tools)).not.toContain(secretValue);
  });

  it('adds countersign_await_decision to tools/list and notes tools that need approval', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((x) => x.name);
    expect(names[0]).toBe('countersign_await_decision');
    expect(names).toContain('echo');
    expect(names).toContain('drop_database');
    expect(tools.find((x) => x.name === 'delete_file')?.description).toContain('need a human reviewer');
    expect(tools.find((x) => x.name === 'echo')?.description).not.toContain('Countersign');
  });

  it('reads resources and gets prompts through the policy', async () => {
    const read = await client.readResource({ uri: 'note://7' });
    expect(read.contents[0]).toMatchObject({ text: 'note 7' });
    const prompt = await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello Ada');
    await recorded(t);
    const types = (await t.gw.service.list({ status: ['executed'], limit: 50 })).map((r) => r.action.type);
    expect(types).toContain('mcp.resources.read');
    expect(types).toContain('mcp.prompts.get');
  });

  it('refuses a denied resource read with a JSON-RPC error carrying the request id', async () => {
    const error = await client.readResource({ uri: 'note://secret' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: -32003 });
    expect((error as Error).message).toContain('Refused by Countersign');
    expect((error as { data: { requestId: string } }).data.requestId).toMatch(/^req_/);
  });

  it('answers an unknown method with a JSON-RPC method-not-found error and keeps serving', async () => {
    await expect(
      client.request({ method: 'no/such/method', params: {} }, CallToolResultSchema),
    ).rejects.toThrow(/Method not found/);
    const ok = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
    expect(textOf(ok)).toContain('still here');
  });

  it('records a tool error result from the upstream as a failed execution', async () => {
    const result = await client.callTool({ name: 'echo', arguments: { wrong: 1 } });
    expect(result.isError).toBe(true);
    const [failed] = await t.gw.service.list({ status: ['failed'], limit: 1 });
    expect(failed?.action.params).toEqual({ wrong: 1 });
    expect(failed?.result?.detail).toContain('error result');
  });
});
