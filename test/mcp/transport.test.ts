import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recorded, requestIdIn, startGateway, type TestGateway, upstreamCalls } from './harness.js';

// The gateway's own Streamable HTTP server transport, spoken to byte for byte: what a client that
// does not use the SDK sees (answers as JSON, event streams only when something must come first).

const accept = 'application/json, text/event-stream';
const version = '2025-06-18';

interface Reply {
  status: number;
  type: string | null;
  session: string | null;
  text: string;
}

async function send(
  t: TestGateway,
  method: 'POST' | 'GET' | 'DELETE',
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(new URL('/mcp/fixture', t.url), {
    method,
    headers: {
      authorization: `Bearer ${t.agentKey}`,
      accept,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    session: res.headers.get('mcp-session-id'),
    text: await res.text(),
  };
}

const initialize = (id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

const call = (id: number | string, name: string, args: Record<string, unknown>, meta?: object) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

/** SSE `data:` payloads of an event stream body, in order. */
const events = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));

describe('MCP gateway: Streamable HTTP exchanges', () => {
  let t: TestGateway;
  let session: Record<string, string>;

  beforeAll(async () => {
    t = await startGateway({ hold: '20s' });
    const init = await send(t, 'POST', initialize());
    expect(init.status).toBe(200);
    expect(init.session).toMatch(/^[0-9a-f-]{36}$/);
    session = { 'mcp-session-id': init.session as string, 'mcp-protocol-version': version };
    const ack = await send(t, 'POST', { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    expect(ack.status).toBe(202);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers initialize as one JSON body carrying the session id', async () => {
    const init = await send(t, 'POST', initialize(7));
    expect(init.type).toContain('application/json');
    expect(JSON.parse(init.text)).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      result: { protocolVersion: version },
    });
  });

  it('answers an allowed call as JSON, and a batch of calls as an array in one body', async () => {
    const one = await send(t, 'POST', call(10, 'echo', { text: 'a' }), session);
    expect(one.status).toBe(200);
    expect(one.type).toContain('application/json');
    expect(JSON.parse(one.text)).toMatchObject({
      id: 10,
      result: { content: [{ type: 'text', text: '{"text":"a"}' }] },
    });

    const batch = await send(
      t,
      'POST',
      [call(11, 'echo', { text: 'b' }), call('x', 'echo', { text: 'c' })],
      session,
    );
    expect(batch.status).toBe(200);
    const answers = JSON.parse(batch.text) as Array<{
      id: unknown;
      result: { content: Array<{ text: string }> };
    }>;
    expect(answers.map((a) => [a.id, a.result.content[0]?.text]).sort()).toEqual([
      [11, '{"text":"b"}'],
      ['x', '{"text":"c"}'],
    ]);
    await recorded(t);
  });

  it('leaves a tools/call the SDK schema refuses to the SDK, which refuses it, and forwards nothing', async () => {
    const before = upstreamCalls(t).length;
    const bad = await send(
      t,
      'POST',
      { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 42, arguments: { text: 'a' } } },
      session,
    );
    expect(bad.status).toBe(200);
    // The SDK's own answer, as before the lane: an internal error naming the bad field.
    expect(JSON.parse(bad.text)).toMatchObject({ id: 12, error: { code: -32603 } });
    expect(JSON.parse(bad.text).error.message).toContain('"name"');
    const listArgs = await send(
      t,
      'POST',
      { jsonrpc: '2.0', id: 13, method: 'tools/call', params: { name: 'echo', arguments: ['a'] } },
      session,
    );
    expect(JSON.parse(listArgs.text)).toMatchObject({ id: 13, error: { code: -32603 } });
    expect(JSON.parse(listArgs.text).error.message).toContain('"arguments"');
    expect(upstreamCalls(t).length).toBe(before);
  });

  it('switches to an event stream when progress must precede the answer, and ends it with the answer', async () => {
    const decided: Promise<unknown>[] = [];
    const watcher = setInterval(() => {
      void t.gw.service.list({ status: ['pending'], limit: 10 }).then((pending) => {
        for (const r of pending)
          if (r.action.resource === 'fixture/delete_file' && decided.length === 0)
            decided.push(t.gw.service.review(r.id, t.reviewer, 'approve', 'test', 'test'));
      });
    }, 50);
    const res = await send(
      t,
      'POST',
      call(20, 'delete_file', { path: '/tmp/x' }, { progressToken: 'p1' }),
      session,
    );
    clearInterval(watcher);
    await Promise.all(decided);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/event-stream');
    const messages = events(res.text);
    const first = messages[0] as { method: string; params: { progressToken: string; message: string } };
    expect(first.method).toBe('notifications/progress');
    expect(first.params.progressToken).toBe('p1');
    expect(requestIdIn(first.params.message)).toMatch(/^req_/);
    expect(messages[messages.length - 1]).toMatchObject({
      id: 20,
      result: { content: [{ text: 'deleted /tmp/x' }] },
    });
  });

  it('refuses duplicate request ids, a second initialize, and a batch over the limit', async () => {
    const dup = await send(
      t,
      'POST',
      [call(30, 'echo', { text: 'a' }), call(30, 'echo', { text: 'b' })],
      session,
    );
    expect(dup.status).toBe(400);
    expect(JSON.parse(dup.text).error.message).toContain('already in use');

    const again = await send(t, 'POST', initialize(31), session);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.text).error.message).toContain('already initialized');

    const many = Array.from({ length: 101 }, (_, i) => call(100 + i, 'echo', { text: 'x' }));
    const tooMany = await send(t, 'POST', many, session);
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.text).error.message).toContain('at most 100');
  });

  it('refuses a client that does not accept event streams, and an unsupported protocol version', async () => {
    const json = await send(t, 'POST', call(40, 'echo', { text: 'a' }), {
      ...session,
      accept: 'application/json',
    });
    expect(json.status).toBe(406);
    const old = await send(t, 'POST', call(41, 'echo', { text: 'a' }), {
      ...session,
      'mcp-protocol-version': '1999-01-01',
    });
    expect(old.status).toBe(400);
    expect(JSON.parse(old.text).error.message).toContain('1999-01-01');
  });

  it('keeps one GET stream per session, and DELETE ends the session', async () => {
    const init = await send(t, 'POST', initialize(50));
    const own = { 'mcp-session-id': init.session as string, 'mcp-protocol-version': version };
    // node:http, not fetch: an aborted fetch leaves undici holding an extra idle connection open.
    const stream = get(new URL('/mcp/fixture', t.url), {
      headers: { authorization: `Bearer ${t.agentKey}`, accept: 'text/event-stream', ...own },
    });
    const opened = await new Promise<IncomingMessage>((resolve) => stream.once('response', resolve));
    expect(opened.statusCode).toBe(200);
    expect(opened.headers['content-type']).toContain('text/event-stream');
    const second = await send(t, 'GET', undefined, { ...own, accept: 'text/event-stream' });
    expect(second.status).toBe(409);
    stream.destroy();

    const bye = await send(t, 'DELETE', undefined, own);
    expect(bye.status).toBe(200);
    const after = await send(t, 'POST', call(51, 'echo', { text: 'a' }), own);
    expect(after.status).toBe(404);
  });
});
