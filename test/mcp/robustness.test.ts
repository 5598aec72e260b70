import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpClient, secretValue, startGateway, type TestGateway, textOf, upstreamCalls } from './harness.js';

const mcpHeaders = (token?: string) => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function post(t: TestGateway, body: string, token?: string, extra: Record<string, string> = {}) {
  const res = await fetch(new URL('/mcp/fixture', t.url), {
    method: 'POST',
    headers: { ...mcpHeaders(token), ...extra },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('MCP gateway: bad input, bad credentials, failing upstreams', () => {
  let t: TestGateway;
  let client: Client;

  beforeAll(async () => {
    t = await startGateway({
      maxMessageBytes: 4096,
      upstreamTimeout: '1s',
      extraUpstreams: `    broken:\n      command: /nonexistent/mcp-server\n      env: { TOKEN: "\${TEST_FIXTURE_SECRET}" }\n`,
    });
    client = await httpClient(t);
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  it('rejects a request without a key with 401 before anything reaches the upstream', async () => {
    const before = upstreamCalls(t).length;
    const res = await post(t, JSON.stringify(initialize));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    const body = JSON.parse(res.text);
    expect(body.error.message).toContain('no bearer token');
    expect(body.error.message).toContain('COUNTERSIGN_TOKEN');
    expect(upstreamCalls(t).length).toBe(before);
  });

  it('rejects a forged or revoked key, and the SDK client cannot connect with it', async () => {
    const forged = await post(t, JSON.stringify(initialize), `${t.agentKey.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
    expect(forged.text).not.toContain(t.agentKey);
    const extra = await t.gw.admin.createActor({ name: 'soon-revoked', owner: 'x@example.com' });
    await t.gw.admin.revoke(extra.credential.id);
    await expect(httpClient(t, 'fixture', extra.token)).rejects.toThrow();
  });

  it('refuses every call from a key restricted to other action types', async () => {
    const narrow = await t.gw.admin.createActor({
      name: 'sql-only',
      owner: 'z@example.com',
      allowedTypes: ['sql.*'],
    });
    const c = await httpClient(t, 'fixture', narrow.token);
    try {
      const result = await c.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('may not submit actions of type mcp.tools.call');
    } finally {
      await c.close();
    }
  });

  it('refuses a reviewer token on the MCP endpoint', async () => {
    const res = await post(t, JSON.stringify(initialize), t.reviewerToken);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error.message).toContain('agent key');
  });

  it('a revoked key loses an open session at its next request', async () => {
    const extra = await t.gw.admin.createActor({ name: 'revoked-mid-session', owner: 'y@example.com' });
    const c = await httpClient(t, 'fixture', extra.token);
    await t.gw.admin.revoke(extra.credential.id);
    await expect(c.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(
      /401|revoked|Unauthorized/i,
    );
    await c.close().catch(() => {});
  });

  it("another agent's key cannot use a session it did not open", async () => {
    const init = await post(t, JSON.stringify(initialize), t.agentKey);
    const sessionId = init.headers.get('mcp-session-id') as string;
    expect(sessionId).toBeTruthy();
    const hijack = await post(
      t,
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      t.otherAgentKey,
      { 'mcp-session-id': sessionId },
    );
    expect(hijack.status).toBe(404);
  });

  it('answers malformed JSON with a JSON-RPC parse error', async () => {
    const res = await post(t, '{"jsonrpc": "2.0", "id": 1, "method": ', t.agentKey);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.code).toBe(-32700);
  });

  it('answers a JSON body that is not JSON-RPC with a JSON-RPC error', async () => {
    const init = await post(t, JSON.stringify(initialize), t.agentKey);
    const sessionId = init.headers.get('mcp-session-id') as string;
    const res = await post(t, JSON.stringify({ hello: 'world' }), t.agentKey, {
      'mcp-session-id': sessionId,
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.code).toBeLessThan(-32000);
  });

  it('answers a request without a session with a JSON-RPC error telling to initialize', async () => {
    const res = await post(t, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), t.agentKey);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.message).toContain('initialize');
  });

  it('answers an oversized message with 413 and a JSON-RPC error, and keeps serving', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x'.repeat(10_000) } },
    });
    const res = await post(t, big, t.agentKey);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).error.message).toContain('mcp.maxMessageBytes');
    const ok = await client.callTool({ name: 'echo', arguments: { text: 'small' } });
    expect(textOf(ok)).toContain('small');
  });

  it('refuses a body past the limit while it streams in, without Content-Length, and closes that connection', async () => {
    const url = new URL('/mcp/fixture', t.url);
    const res = await new Promise<{ status: number; connection?: string; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(url, { method: 'POST', headers: mcpHeaders(t.agentKey) }, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => {
            body += c;
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, connection: r.headers.connection, body }));
        });
        req.on('error', reject);
        // Chunked: the size is known only once the limit (4096 bytes here) is passed.
        req.write(
          `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`,
        );
        for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
        req.end('"}}}');
      },
    );
    expect(res.status).toBe(413);
    expect(res.connection).toBe('close');
    expect(JSON.parse(res.body).error.message).toContain('mcp.maxMessageBytes');
    const ok = await client.callTool({ name: 'echo', arguments: { text: 'after a streamed oversize body' } });
    expect(textOf(ok)).toContain('after a streamed oversize body');
  });

  it('answers a body that is not JSON with 415, and a method MCP does not use with 405', async () => {
    const text = await post(t, 'hello', t.agentKey, { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(JSON.parse(text.text).error.message).toContain('Content-Type: application/json');
    const put = await fetch(new URL('/mcp/fixture', t.url), {
      method: 'PUT',
      headers: mcpHeaders(t.agentKey),
    });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST, GET, DELETE');
    expect(((await put.json()) as { error: { code: number } }).error.code).toBe(-32000);
  });

  it('survives a client that hangs up halfway through its body, and keeps serving', async () => {
    const { port } = new URL(t.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `POST /mcp/fixture HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.agentKey}\r\n` +
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":"2.0",',
        );
        // Long enough for the gateway to have authenticated and started reading the body.
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
      socket.on('error', reject);
    });
    const ok = await client.callTool({ name: 'echo', arguments: { text: 'after a hang-up' } });
    expect(textOf(ok)).toContain('after a hang-up');
  });

  it('counts MCP requests in the request metrics under their route, answered at once or later', async () => {
    await client.callTool({ name: 'echo', arguments: { text: 'counted' } });
    await fetch(new URL('/mcp/fixture', t.url), { method: 'PATCH' });
    const metrics = await (await fetch(new URL('/metrics', t.url))).text();
    const count = (method: string, status: number) => {
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('countersign_http_request_duration_seconds_count{') &&
            l.includes('route="/mcp/:name"') &&
            l.includes(`method="${method}"`) &&
            l.includes(`status="${status}"`),
        );
      return Number(line?.split(' ').at(-1));
    };
    expect(count('POST', 200)).toBeGreaterThan(0);
    expect(count('PATCH', 405)).toBe(1);
  });

  it('answers an unknown upstream name with a JSON-RPC error', async () => {
    const res = await fetch(new URL('/mcp/nope', t.url), {
      method: 'POST',
      headers: mcpHeaders(t.agentKey),
      body: JSON.stringify(initialize),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      "No MCP server named 'nope'",
    );
  });

  it('an upstream that cannot start gives a clean error that names no secret', async () => {
    const res = await fetch(new URL('/mcp/broken', t.url), {
      method: 'POST',
      headers: mcpHeaders(t.agentKey),
      body: JSON.stringify(initialize),
    });
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text).error.message).toContain("'broken'");
    expect(text).not.toContain(secretValue);
  });

  it('a hanging upstream call ends in a JSON-RPC error after the upstream timeout; the proxy keeps serving', async () => {
    await expect(client.callTool({ name: 'hang', arguments: {} })).rejects.toThrow(/did not answer/);
    const [failed] = await t.gw.service.list({ status: ['failed'], limit: 1 });
    expect(failed?.action.resource).toBe('fixture/hang');
    const ok = await client.callTool({ name: 'echo', arguments: { text: 'after hang' } });
    expect(textOf(ok)).toContain('after hang');
  });

  it('a crashing stdio upstream gives a JSON-RPC error, is restarted, and the session keeps working', async () => {
    const pidBefore = textOf(await client.callTool({ name: 'pid', arguments: {} }));
    await expect(client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow(/unavailable/);
    const [failed] = await t.gw.service.list({ status: ['failed'], limit: 1 });
    expect(failed?.action.resource).toBe('fixture/crash');
    const pidAfter = textOf(await client.callTool({ name: 'pid', arguments: {} }));
    expect(pidAfter).not.toBe(pidBefore);
    const ok = await client.callTool({ name: 'echo', arguments: { text: 'after crash' } });
    expect(textOf(ok)).toContain('after crash');
  });
});
