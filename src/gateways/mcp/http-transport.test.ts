import { EventEmitter } from 'node:events';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { Cancellation } from '../../core/cancel.js';
import { defined, expectSkipsOnlyNeutralParses } from './fast-path.case.js';
import { isPlainRequest, type Lane, NodeStreamableTransport } from './http-transport.js';

/** Absent most of the time; `undefined` keys are then dropped by `defined`, as JSON would. */
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 4 });
const often = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: arb, weight: 3 }, fc.constant(undefined));

/** Values near a JSON-RPC request: mostly well-formed, with wrong types and extra keys here and there. */
const meta = fc
  .record({
    progressToken: often(fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null))),
    'io.modelcontextprotocol/related-task': rarely(
      fc.oneof(fc.record({ taskId: fc.oneof(fc.string(), fc.integer()) }), fc.jsonValue()),
    ),
    'countersign/justification': often(fc.string()),
  })
  .map(defined);
const params = fc.oneof(
  {
    arbitrary: fc
      .record({ name: fc.string(), arguments: often(fc.jsonValue()), _meta: often(meta) })
      .map(defined),
    weight: 6,
  },
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 2 }),
  fc.record({ _meta: fc.oneof(fc.constant(null), fc.jsonValue()) }),
);
const near = fc
  .record({
    jsonrpc: fc.constantFrom<unknown>('2.0', '2.0', '2.0', '2.0', '1.0', 2),
    id: fc.oneof(
      { arbitrary: fc.oneof(fc.string(), fc.integer()), weight: 6 },
      fc.double(),
      fc.constant(null),
      fc.boolean(),
      fc.constant(2 ** 60),
    ),
    method: fc.oneof({ arbitrary: fc.string(), weight: 6 }, fc.integer()),
    params: often(params),
    result: rarely(fc.jsonValue()),
    extra: rarely(fc.jsonValue()),
  })
  .map(defined);

describe('isPlainRequest', () => {
  it('accepts only messages the SDK schema accepts, and passes them on unchanged', () => {
    expectSkipsOnlyNeutralParses(isPlainRequest, JSONRPCMessageSchema, near);
  });

  it('takes the requests a client sends on every call', () => {
    expect(isPlainRequest({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo' } })).toBe(
      true,
    );
    expect(
      isPlainRequest({
        jsonrpc: '2.0',
        id: 'a',
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x' }, _meta: { progressToken: 3 } },
      }),
    ).toBe(true);
    // Left to the schema: a notification, a response, and a request with an extra key.
    expect(isPlainRequest({ jsonrpc: '2.0', method: 'notifications/initialized' })).toBe(false);
    expect(isPlainRequest({ jsonrpc: '2.0', id: 1, result: {} })).toBe(false);
    expect(isPlainRequest({ jsonrpc: '2.0', id: 1, method: 'ping', extra: 1 })).toBe(false);
  });
});

/** Just enough of a ServerResponse for the transport: what was written, and whether it ended. */
function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    status: 0,
    body: '',
    writableEnded: false,
    destroyed: false,
    writeHead(status: number) {
      res.status = status;
      return res;
    },
    write(chunk: string) {
      res.body += chunk;
      return true;
    },
    end(chunk?: string) {
      if (chunk) res.body += chunk;
      res.writableEnded = true;
      return res;
    },
  });
  return res;
}

describe('NodeStreamableTransport: the tools/call lane', () => {
  const call = (id: number, name: unknown) => ({
    jsonrpc: '2.0' as const,
    id,
    method: 'tools/call',
    params: { name },
  });

  it('serves what the lane takes, leaves the rest to the server, and aborts a lane call the client cancels', async () => {
    const signals = new Map<number, Cancellation>();
    const lane: Lane = (method, params, extra) => {
      const name = (params as { name?: unknown }).name;
      if (method !== 'tools/call' || typeof name !== 'string') return undefined;
      const id = Number(name);
      signals.set(id, extra.signal);
      return id === 1 ? Promise.resolve({ content: [] }) : new Promise(() => {});
    };
    const transport = new NodeStreamableTransport('s', lane);
    const server: unknown[] = [];
    transport.onmessage = (m) => server.push(m);

    const answered = fakeResponse();
    transport.post(answered as never, [call(1, '1')], false);
    await vi.waitFor(() => expect(answered.writableEnded).toBe(true));
    expect(JSON.parse(answered.body)).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [] } });

    // Not the lane's: the SDK's Server gets it, as before.
    transport.post(fakeResponse() as never, [call(2, 42)], false);
    expect(server).toEqual([call(2, 42)]);

    const held = fakeResponse();
    transport.post(held as never, [call(3, '3')], false);
    expect(signals.get(3)?.aborted).toBe(false);
    const cancel = { jsonrpc: '2.0' as const, method: 'notifications/cancelled', params: { requestId: 3 } };
    const ack = fakeResponse();
    transport.post(ack as never, [cancel], false);
    expect(ack.status).toBe(202);
    expect(signals.get(3)?.aborted).toBe(true);
    // The cancellation of a lane call is the lane's: the server never saw that request.
    expect(server).toEqual([call(2, 42)]);
    // A cancellation of a request the lane does not hold still goes to the server.
    const other = { ...cancel, params: { requestId: 2 } };
    transport.post(fakeResponse() as never, [other], false);
    expect(server).toEqual([call(2, 42), other]);
  });

  it('answers a lane failure as the SDK does, and stops held lane calls when the session closes', async () => {
    let held: Cancellation | undefined;
    const transport = new NodeStreamableTransport('s', (_method, params, extra) => {
      if ((params as { name: string }).name === 'held') {
        held = extra.signal;
        return new Promise(() => {});
      }
      return Promise.reject(
        Object.assign(new Error('the upstream refused'), { code: -32602, data: { x: 1 } }),
      );
    });
    const res = fakeResponse();
    transport.post(res as never, [call(1, 'fails')], false);
    await vi.waitFor(() => expect(res.writableEnded).toBe(true));
    expect(JSON.parse(res.body)).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32602, message: 'the upstream refused', data: { x: 1 } },
    });
    transport.post(fakeResponse() as never, [call(2, 'held')], false);
    expect(held?.aborted).toBe(false);
    await transport.close();
    expect(held?.aborted).toBe(true);
  });
});
