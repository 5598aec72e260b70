import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it, vi } from 'vitest';
import { type CallExtra, Forwarder } from './forward.js';
import type { Upstream } from './upstream.js';
import { UpstreamLane } from './upstream-lane.js';

/** An upstream whose connection has both paths: the SDK Client (a spy) and the lane. */
async function setup() {
  const [mine, theirs] = InMemoryTransport.createLinkedPair();
  const lane = new UpstreamLane(mine);
  theirs.onmessage = (m) => {
    const { id } = m as { id: string };
    void theirs.send({
      jsonrpc: '2.0',
      id,
      result: { content: [{ type: 'text', text: 'by lane' }] },
    } as JSONRPCMessage);
  };
  await mine.start();
  await theirs.start();
  const client = { request: vi.fn(async () => ({ content: [{ type: 'text', text: 'by client' }] })) };
  const upstream = {
    name: 'u',
    connected: async () => client,
    lane: () => lane,
    redact: (s: string) => s,
    reset() {},
  } as unknown as Upstream;
  return { forwarder: new Forwarder(upstream, 60_000), client };
}

const extra = (meta?: CallExtra['_meta']): CallExtra => ({
  signal: new AbortController().signal,
  ...(meta ? { _meta: meta } : {}),
  sendNotification: async () => {},
});
const call = { method: 'tools/call', params: { name: 'echo', arguments: {} } };

describe('Forwarder', () => {
  it('sends a call without a progress token through the lane', async () => {
    const t = await setup();
    const result = await t.forwarder.request(call, CallToolResultSchema, extra());
    expect(result.content).toEqual([{ type: 'text', text: 'by lane' }]);
    expect(t.client.request).not.toHaveBeenCalled();
  });

  it('leaves a call with a progress token to the SDK Client, which relays the progress', async () => {
    const t = await setup();
    const result = await t.forwarder.request(call, CallToolResultSchema, extra({ progressToken: 7 }));
    expect(result.content).toEqual([{ type: 'text', text: 'by client' }]);
    expect(t.client.request).toHaveBeenCalledWith(
      { method: 'tools/call', params: { name: 'echo', arguments: {} } },
      CallToolResultSchema,
      expect.objectContaining({ onprogress: expect.any(Function) }),
    );
  });
});
