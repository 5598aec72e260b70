import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolResultSchema,
  ErrorCode,
  type JSONRPCMessage,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UpstreamLane } from './upstream-lane.js';

type Message = Record<string, unknown>;

/**
 * The lane on one end of an in-memory pair. `client` records what the lane leaves to the SDK
 * Client's handler; the other end is the upstream, answering as each test scripts it.
 */
async function setup(answer: (m: Message, reply: (r: Message) => void) => void = () => {}) {
  const [mine, theirs] = InMemoryTransport.createLinkedPair();
  const client = { messages: [] as Message[], closed: 0 };
  mine.onmessage = (m) => client.messages.push(m as Message);
  mine.onclose = () => client.closed++;
  const lane = new UpstreamLane(mine);
  const upstream: Message[] = [];
  const reply = (r: Message) => void theirs.send({ jsonrpc: '2.0', ...r } as JSONRPCMessage);
  theirs.onmessage = (m) => {
    upstream.push(m as Message);
    answer(m as Message, reply);
  };
  await mine.start();
  await theirs.start();
  return { lane, client, upstream, reply, mine, theirs };
}

const options = (signal = new AbortController().signal) => ({ timeout: 60_000, signal });
const call = { name: 'echo', arguments: { text: 'hi' } };

afterEach(() => {
  vi.useRealTimers();
});

describe('UpstreamLane', () => {
  it('sends a plain request and resolves with the answer parsed against the schema', async () => {
    const t = await setup((m, reply) =>
      reply({ id: m.id, result: { content: [{ type: 'text', text: 'hi' }], extra: 1 } }),
    );
    const result = await t.lane.request('tools/call', call, CallToolResultSchema, options());
    expect(result.content).toEqual([{ type: 'text', text: 'hi' }]);
    expect(t.upstream).toEqual([
      { jsonrpc: '2.0', id: expect.stringMatching(/^cs-/), method: 'tools/call', params: call },
    ]);
    // Its answer was the lane's own: the Client never saw it.
    expect(t.client.messages).toEqual([]);
  });

  it('returns a plain text result as it came, and parses anything richer', async () => {
    const plain = { content: [{ type: 'text', text: 'hi' }], isError: false };
    const rich = { content: [{ type: 'text', text: 'hi', unknown: 1 }] };
    const t = await setup((m, reply) =>
      reply({ id: m.id, result: (m.params as { name: string }).name === 'plain' ? plain : rich }),
    );
    const a = await t.lane.request('tools/call', { name: 'plain' }, CallToolResultSchema, options());
    expect(a).toEqual(plain);
    // The schema strips what a text item may not carry: the parse ran.
    const b = await t.lane.request('tools/call', { name: 'rich' }, CallToolResultSchema, options());
    expect(b).toEqual({ content: [{ type: 'text', text: 'hi' }] });
  });

  it('leaves every message that answers none of its requests to the Client', async () => {
    const t = await setup();
    const pending = t.lane.request('tools/call', call, CallToolResultSchema, options());
    const id = t.upstream[0]?.id as string;
    const others: Message[] = [
      { jsonrpc: '2.0', id: 0, result: {} }, // the Client's own request, by integer id
      { jsonrpc: '2.0', id: 'cs-999', result: {} }, // a lane id it never sent
      { jsonrpc: '2.0', method: 'notifications/tools/list_changed' },
      { jsonrpc: '2.0', id, method: 'sampling/createMessage', params: {} }, // a server request, same id
      { jsonrpc: '2.0', id, result: 'not an object' },
      { jsonrpc: '2.0', id, error: { code: 'x', message: 'bad' } },
    ];
    for (const m of others) t.reply(m);
    expect(t.client.messages).toEqual(others);
    // Malformed answers settle nothing: the request still takes its real answer.
    t.reply({ id, result: { content: [] } });
    await expect(pending).resolves.toEqual({ content: [] });
  });

  it('turns the upstream error into an McpError with its code, message and data', async () => {
    const t = await setup((m, reply) =>
      reply({ id: m.id, error: { code: -32602, message: 'unknown tool', data: { tool: 'x' } } }),
    );
    const failure = t.lane.request('tools/call', call, CallToolResultSchema, options());
    await expect(failure).rejects.toBeInstanceOf(McpError);
    await expect(failure).rejects.toMatchObject({
      code: -32602,
      message: 'MCP error -32602: unknown tool',
      data: { tool: 'x' },
    });
  });

  it('rejects a result the schema refuses, as the Client does', async () => {
    const t = await setup((m, reply) => reply({ id: m.id, result: { content: 'not a list' } }));
    await expect(t.lane.request('tools/call', call, CallToolResultSchema, options())).rejects.toMatchObject({
      name: 'ZodError',
    });
  });

  it('gives up at the timeout, tells the upstream, and ignores a late answer', async () => {
    vi.useFakeTimers();
    const t = await setup();
    const failure = t.lane.request('tools/call', call, CallToolResultSchema, { ...options(), timeout: 500 });
    const id = t.upstream[0]?.id;
    vi.advanceTimersByTime(500);
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.RequestTimeout, data: { timeout: 500 } });
    expect(t.upstream[1]).toMatchObject({ method: 'notifications/cancelled', params: { requestId: id } });
    t.reply({ id, result: { content: [] } });
    expect(t.client.messages).toEqual([{ jsonrpc: '2.0', id, result: { content: [] } }]);
  });

  it('cancels upstream when the caller aborts, with the reason', async () => {
    const t = await setup();
    const abort = new AbortController();
    const failure = t.lane.request('tools/call', call, CallToolResultSchema, options(abort.signal));
    const id = t.upstream[0]?.id;
    abort.abort('the agent cancelled');
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.RequestTimeout });
    await expect(failure).rejects.toThrow(/the agent cancelled/);
    expect(t.upstream[1]).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'the agent cancelled' },
    });
  });

  it('refuses at once a request whose caller has already aborted, sending nothing', async () => {
    const t = await setup();
    const abort = new AbortController();
    abort.abort(new Error('gone'));
    await expect(
      t.lane.request('tools/call', call, CallToolResultSchema, options(abort.signal)),
    ).rejects.toThrow('gone');
    expect(t.upstream).toEqual([]);
  });

  it('fails pending and later requests with ConnectionClosed when the transport closes', async () => {
    const t = await setup();
    const pending = t.lane.request('tools/call', call, CallToolResultSchema, options());
    await t.theirs.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    // The Client still hears of the close (it fails its own requests and reconnects).
    expect(t.client.closed).toBe(1);
    await expect(t.lane.request('tools/call', call, CallToolResultSchema, options())).rejects.toMatchObject({
      code: ErrorCode.ConnectionClosed,
    });
  });

  it('rejects with the transport error when the request cannot be sent', async () => {
    const refused = new Error('connect ECONNREFUSED');
    const transport: Transport = {
      start: async () => {},
      close: async () => {},
      send: async () => {
        throw refused;
      },
    };
    const lane = new UpstreamLane(transport);
    await expect(lane.request('tools/call', call, CallToolResultSchema, options())).rejects.toBe(refused);
  });
});
