import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolResultSchema,
  type JSONRPCMessage,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Forwarder } from './forward.js';
import { HttpClientTransport, SessionLostError } from './http-client.js';
import { Upstream } from './upstream.js';

const secret = 'sk-live-9d2f7c41e0';
const headers = { Authorization: `Bearer ${secret}`, 'X-Api-Key': 'key-a81c55' };

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

/** One McpServer per session, as the SDK requires; `seen` records what reached it. */
function build(seen: Seen) {
  const server = new McpServer({ name: 'http-client-test', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text: t }) => text(t));
  server.registerTool('slow', {}, async (extra) => {
    const token = extra._meta?.progressToken;
    for (const progress of [1, 2]) {
      if (token !== undefined)
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress },
        });
    }
    return text('done');
  });
  server.registerTool('notify', {}, async () => {
    server.sendToolListChanged();
    return text('sent');
  });
  server.registerTool('hang', {}, () => new Promise(() => {}));
  // Ends its POST stream at once and answers later: the client must fetch the answer with GET.
  server.registerTool('poll', {}, async (extra) => {
    extra.closeSSEStream?.();
    await new Promise((r) => setTimeout(r, 50));
    return text(extra.closeSSEStream ? 'answered after the stream closed' : 'no event store');
  });
  server.registerTool('headers', {}, async () => text(JSON.stringify(seen.lastHeaders)));
  return server;
}

interface Seen {
  lastHeaders: Record<string, unknown>;
  methods: string[];
  /** Resolved when the response of a `hang` call is closed by the client. */
  hangClosed: Promise<void>;
}

/** The SDK's McpServer over its StreamableHTTPServerTransport on loopback; `restart` forgets every session. */
async function sdkServer(opts: { json?: boolean; events?: boolean } = {}) {
  let sessions = new Map<string, StreamableHTTPServerTransport>();
  let hangClosed!: () => void;
  const seen: Seen = {
    lastHeaders: {},
    methods: [],
    hangClosed: new Promise((r) => {
      hangClosed = r;
    }),
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    seen.methods.push(`${req.method} ${body?.method ?? ''}`.trim());
    if (body?.method === 'tools/call') seen.lastHeaders = req.headers;
    if (body?.params?.name === 'hang') res.once('close', () => hangClosed());
    const id = req.headers['mcp-session-id'] as string | undefined;
    let transport = id ? sessions.get(id) : undefined;
    if (id && !transport) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }),
      );
      return;
    }
    if (!transport) {
      const map = sessions;
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: opts.json ?? false,
        ...(opts.events ? { eventStore: new InMemoryEventStore(), retryInterval: 10 } : {}),
        onsessioninitialized: (sid) => void map.set(sid, created),
        onsessionclosed: (sid) => void map.delete(sid),
      });
      transport = created;
      await build(seen).connect(transport);
    }
    await transport.handleRequest(req, res, body);
  };
  let http = createServer(handler);
  await listen(http, 0);
  const port = (http.address() as AddressInfo).port;
  const s = {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    seen,
    sessions: () => sessions,
    /** Forgets every session but keeps the connections, as an upstream behind a balancer might. */
    forget: () => {
      sessions = new Map();
    },
    restart: async () => {
      await stop(http);
      sessions = new Map();
      http = createServer(handler);
      await listen(http, port);
    },
    close: () => stop(http),
  };
  cleanups.push(s.close);
  return s;
}

/** A plain node:http server answering every request with `respond`: for answers no real server gives. */
async function rawServer(respond: (req: IncomingMessage, res: ServerResponse, body: JSONRPCMessage) => void) {
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    if (req.method === 'GET') {
      res.writeHead(405).end();
      return;
    }
    respond(req, res, body);
  });
  await listen(http, 0);
  cleanups.push(() => stop(http));
  return new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
}

const initializeResult = (id: unknown) => ({
  jsonrpc: '2.0',
  id,
  result: {
    protocolVersion: '2025-06-18',
    capabilities: { tools: {} },
    serverInfo: { name: 'raw', version: '1' },
  },
});

/** Answers initialize properly and then every request with `answer`. */
function afterInitialize(answer: (res: ServerResponse, body: JSONRPCMessage & { id?: unknown }) => void) {
  return (
    _req: IncomingMessage,
    res: ServerResponse,
    body: JSONRPCMessage & { id?: unknown; method?: string },
  ) => {
    if (body.method === 'initialize') {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' });
      res.end(JSON.stringify(initializeResult(body.id)));
    } else if (body.id === undefined) res.writeHead(202).end();
    else answer(res, body);
  };
}

function listen(http: Server, port: number): Promise<void> {
  return new Promise((resolve) => http.listen(port, '127.0.0.1', resolve));
}

function stop(http: Server): Promise<void> {
  http.closeAllConnections();
  return new Promise((resolve) => http.close(() => resolve()));
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
});

async function connect(url: URL, options: ConstructorParameters<typeof HttpClientTransport>[1] = {}) {
  const transport = new HttpClientTransport(url, { headers, ...options });
  const errors: Error[] = [];
  transport.onerror = (e) => errors.push(e);
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport, errors };
}

const echo = (client: Client, t: string) =>
  client
    .callTool({ name: 'echo', arguments: { text: t } })
    .then((r) => (r.content as Array<{ text: string }>)[0]?.text);

for (const json of [false, true]) {
  describe(`HttpClientTransport against the SDK server (${json ? 'JSON' : 'SSE'} responses)`, () => {
    it('initializes, keeps the session, sends the configured and protocol headers', async () => {
      const s = await sdkServer({ json });
      const { client, transport } = await connect(s.url);
      expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await echo(client, 'hello')).toBe('hello');
      const sent = JSON.parse(
        ((await client.callTool({ name: 'headers', arguments: {} })).content as Array<{ text: string }>)[0]
          ?.text ?? '{}',
      );
      expect(sent).toMatchObject({
        authorization: `Bearer ${secret}`,
        'x-api-key': 'key-a81c55',
        'mcp-session-id': transport.sessionId,
        'mcp-protocol-version': client.getServerCapabilities() ? expect.any(String) : undefined,
      });
      // Many calls in a row, some at once, over the keep-alive sockets.
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => echo(client, `n${i}`)));
      expect(many).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    });

    it('receives a server-initiated tools/list_changed on the GET stream', async () => {
      const s = await sdkServer({ json });
      const { client } = await connect(s.url);
      let changed = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        changed++;
      });
      // The GET stream opens just after connect; a notification sent before it is open is lost,
      // so ask again until one arrives (the test times out if none ever does).
      while (changed === 0) {
        await client.callTool({ name: 'notify', arguments: {} });
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(s.seen.methods).toContain('GET');
    });

    it('ends the session with a DELETE on close', async () => {
      const s = await sdkServer({ json });
      const { client } = await connect(s.url);
      expect(s.sessions().size).toBe(1);
      await client.close();
      expect(s.seen.methods).toContain('DELETE');
      expect(s.sessions().size).toBe(0);
    });

    it('a forgotten session: the next call fails with a lost session and the transport closes', async () => {
      const s = await sdkServer({ json });
      // A long reconnect delay keeps the GET stream from noticing the restart first.
      const { client, transport } = await connect(s.url, { reconnectMs: 60_000 });
      let closed = false;
      transport.onclose = ((previous) => () => {
        closed = true;
        previous?.();
      })(transport.onclose);
      expect(await echo(client, 'before')).toBe('before');
      s.forget();
      const error = await echo(client, 'after').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionLostError);
      await new Promise((r) => setImmediate(r));
      expect(closed).toBe(true);
      // A lost session is not deleted: the upstream does not know it.
      expect(s.seen.methods.filter((m) => m === 'DELETE')).toEqual([]);
    });
  });
}

describe('HttpClientTransport: event streams', () => {
  it('delivers progress notifications sent before the result', async () => {
    const s = await sdkServer();
    const { client } = await connect(s.url);
    const progress: number[] = [];
    const result = await client.request(
      { method: 'tools/call', params: { name: 'slow', arguments: {} } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(progress).toEqual([1, 2]);
    expect(result.content[0]).toMatchObject({ text: 'done' });
  });

  it('fetches the answer with GET and Last-Event-ID when the upstream ends the POST stream early', async () => {
    const s = await sdkServer({ events: true });
    const { client, errors } = await connect(s.url);
    const result = await client.callTool({ name: 'poll', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'answered after the stream closed' }]);
    expect(s.seen.methods.filter((m) => m === 'GET').length).toBeGreaterThanOrEqual(2);
    // Priming events (an id, no data) are not messages and not errors.
    expect(errors).toEqual([]);
  });

  it('drops the open POST of a request that timed out, so it does not hold a socket', async () => {
    const s = await sdkServer();
    const { client } = await connect(s.url);
    await expect(
      client.callTool({ name: 'hang', arguments: {} }, undefined, { timeout: 100 }),
    ).rejects.toThrow(/timed out/i);
    await s.seen.hangClosed;
    expect(await echo(client, 'still there')).toBe('still there');
  });

  it('fails a request whose stream ends without its response, and reports an event that is not JSON', async () => {
    const url = await rawServer(
      afterInitialize((res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('event: message\ndata: {not json\n\n');
      }),
    );
    const { client, errors } = await connect(url);
    await expect(echo(client, 'x')).rejects.toThrow(/ended the event stream before answering/);
    expect(errors.map((e) => e.message)).toContain('the upstream sent an event that is not JSON');
  });

  it('drops an oversized event and keeps serving', async () => {
    let big = true;
    const url = await rawServer(
      afterInitialize((res, body) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (big) {
          big = false;
          res.write(`data: ${'x'.repeat(5000)}`);
          res.write('y'.repeat(10_000)); // never ends the line
          return;
        }
        res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: body.id, result: text('ok') })}\n\n`);
      }),
    );
    const { client } = await connect(url, { maxMessageBytes: 8192 });
    await expect(echo(client, 'x')).rejects.toThrow(/larger than 8192 bytes/);
    expect(await echo(client, 'x')).toBe('ok');
  });
});

describe('HttpClientTransport: bad answers', () => {
  it('names the status of a 401 and never the credentials, even when the upstream echoes them', async () => {
    const url = await rawServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: {
            code: -32001,
            message: `token ${req.headers.authorization?.split(' ')[1]} / ${req.headers['x-api-key']} refused`,
          },
        }),
      );
    });
    const error = (await connect(url).then(
      () => new Error('connected'),
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain('HTTP 401');
    expect(error.message).toContain('credentials');
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain('key-a81c55');
  });

  it('refuses an oversized JSON answer, whether announced or not', async () => {
    const payload = JSON.stringify({ jsonrpc: '2.0', id: 1, result: text('z'.repeat(20_000)) });
    for (const chunked of [false, true]) {
      const url = await rawServer(
        afterInitialize((res) => {
          res.writeHead(200, {
            'content-type': 'application/json',
            ...(chunked ? {} : { 'content-length': Buffer.byteLength(payload) }),
          });
          if (chunked) for (let i = 0; i < payload.length; i += 1000) res.write(payload.slice(i, i + 1000));
          res.end(chunked ? '' : payload);
        }),
      );
      const { client } = await connect(url, { maxMessageBytes: 4096 });
      await expect(echo(client, 'x')).rejects.toThrow(/larger than 4096 bytes/);
    }
  });

  it('refuses malformed JSON, a non-JSON-RPC body and an unexpected content type', async () => {
    const bodies: Array<[string, string, RegExp]> = [
      ['application/json', '{"jsonrpc": "2.0", "id": ', /malformed JSON/],
      ['application/json', '{"hello": "world"}', /non-JSON-RPC/],
      ['text/html', '<h1>hi</h1>', /unexpected content type \(text\/html\)/],
    ];
    for (const [type, body, expected] of bodies) {
      const url = await rawServer(
        afterInitialize((res) => {
          res.writeHead(200, { 'content-type': type });
          res.end(body);
        }),
      );
      const { client } = await connect(url);
      await expect(echo(client, 'x')).rejects.toThrow(expected);
    }
  });

  it('does not follow a redirect, which would carry the credentials elsewhere', async () => {
    let followed = false;
    const elsewhere = await rawServer((_req, res) => {
      followed = true;
      res.writeHead(500).end();
    });
    const url = await rawServer((_req, res) => {
      res.writeHead(307, { location: elsewhere.href }).end();
    });
    await expect(connect(url)).rejects.toThrow(/HTTP 307.*redirects are not followed/);
    expect(followed).toBe(false);
  });

  it('reports a refused connection', async () => {
    const url = await rawServer(() => {});
    const port = url.port;
    await cleanups.pop()?.();
    await expect(connect(new URL(`http://127.0.0.1:${port}/mcp`))).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('Upstream over HttpClientTransport', () => {
  it('reconnects after the upstream restarted and forgot the session', async () => {
    const s = await sdkServer();
    const logged: string[] = [];
    const log = (obj: object, msg: string) => logged.push(`${msg} ${JSON.stringify(obj)}`);
    const logger = { info: log, warn: log, debug: log };
    const changed: string[] = [];
    const upstream = new Upstream({
      name: 'remote',
      config: { kind: 'http', url: s.url.href, headers },
      logger,
      version: '0',
      onListChanged: (what) => changed.push(what),
    });
    cleanups.push(() => upstream.close());
    const forwarder = new Forwarder(upstream, 5000);
    const extra = { signal: new AbortController().signal } as never;
    const call = (t: string) =>
      forwarder
        .request(
          { method: 'tools/call', params: { name: 'echo', arguments: { text: t } } },
          CallToolResultSchema,
          extra,
        )
        .then((r) => (r.content[0] as { text: string }).text);
    expect(await call('one')).toBe('one');
    const before = s.sessions();
    await s.restart();
    // The first call after the restart may fail (the session is gone) or may already find a new
    // connection (the GET stream noticed first); either way the one after it works.
    const first = await call('two').catch((e: Error) => e);
    if (first instanceof Error) {
      expect(first.message).toContain("'remote'");
      expect(first.message).not.toContain(secret);
    }
    expect(await call('three')).toBe('three');
    expect(s.sessions().size).toBe(1);
    expect(before.size).toBe(1);
    // The restarted upstream may offer other tools: sessions are told to re-list.
    expect(changed).toEqual(['tools']);
    expect(logged.join('\n')).not.toContain(secret);
  });
});

describe('Upstream: connection errors', () => {
  it('logs what the connection could not use, at most once per 10 s, counting the rest', async () => {
    const url = await rawServer(
      afterInitialize((res, body) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message\ndata: {not json\n\n');
        res.write('event: message\ndata: {"jsonrpc":"1.0"}\n\n');
        res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: body.id, result: text('ok') })}\n\n`);
      }),
    );
    const warned: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const clock = { now: 1_000_000 };
    const upstream = new Upstream({
      name: 'remote',
      config: { kind: 'http', url: url.href, headers },
      logger: { info() {}, debug() {}, warn: (obj, msg) => warned.push({ obj: { ...obj }, msg }) },
      version: '0',
      onListChanged() {},
      now: () => clock.now,
    });
    cleanups.push(() => upstream.close());
    const forwarder = new Forwarder(upstream, 5000);
    const extra = { signal: new AbortController().signal } as never;
    const call = () =>
      forwarder
        .request(
          { method: 'tools/call', params: { name: 'echo', arguments: {} } },
          CallToolResultSchema,
          extra,
        )
        .then((r) => (r.content[0] as { text: string }).text);

    expect(await call()).toBe('ok');
    expect(warned).toEqual([
      {
        obj: { upstream: 'remote', err: 'the upstream sent an event that is not JSON' },
        msg: 'the MCP upstream connection reported an error',
      },
    ]);
    expect(await call()).toBe('ok');
    expect(warned).toHaveLength(1);
    clock.now += 10_000;
    expect(await call()).toBe('ok');
    expect(warned).toHaveLength(2);
    // The second event of the first call and both of the second call were counted, not logged.
    expect(warned[1]?.obj).toEqual({
      upstream: 'remote',
      err: 'the upstream sent an event that is not JSON',
      notLogged: 3,
    });
  });
});
