import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import {
  httpClient,
  recorded,
  requestIdIn,
  startGateway,
  type TestGateway,
  textOf,
  upstreamCalls,
} from './harness.js';

const awaitTool = 'countersign_await_decision';

/** Approves through the HTTP API with a reviewer token, as a console or channel would. */
async function approveOverApi(t: TestGateway, id: string, vote: 'approve' | 'deny' = 'approve') {
  const res = await fetch(new URL(`/v1/actions/${id}/reviews`, t.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${t.reviewerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ vote, comment: 'from the test' }),
  });
  expect(res.status).toBe(200);
}

describe('MCP gateway: calls still pending after the hold', () => {
  let t: TestGateway;
  let client: Client;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    t = await startGateway({ hold: '150ms', clock });
    client = await httpClient(t);
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  async function pendingCall(args: Record<string, unknown>, name = 'delete_file'): Promise<string> {
    const result = await client.callTool({ name, arguments: args });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toContain('Waiting for human approval');
    expect(text).toContain(awaitTool);
    expect(text).toContain('Do not repeat the original call');
    const id = requestIdIn(text);
    expect((result._meta as Record<string, unknown>)['countersign/status']).toBe('pending');
    return id;
  }

  it('tells the model the request id and to await; the await tool returns the real result once approved', async () => {
    const id = await pendingCall({ path: '/srv/one' });
    expect(upstreamCalls(t).some((c) => c.args.path === '/srv/one')).toBe(false);
    await approveOverApi(t, id);
    const result = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('deleted /srv/one');
    await recorded(t);
    const snap = await t.gw.service.get(id);
    expect(snap.request.status).toBe('executed');
  });

  it('runs an approved action at most once: awaiting again or repeating the call does not re-run it', async () => {
    const id = await pendingCall({ path: '/srv/once' });
    await approveOverApi(t, id);
    const first = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(textOf(first)).toBe('deleted /srv/once');
    const again = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(again.isError).toBe(true);
    expect(textOf(again)).toContain('already ran');
    expect(upstreamCalls(t).filter((c) => c.args.path === '/srv/once')).toHaveLength(1);
  });

  it('the await tool waits while still pending, then reports pending again without running anything', async () => {
    const id = await pendingCall({ path: '/srv/slow' });
    const result = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`Waiting for human approval (request ${id})`);
  });

  it('the await tool returns the refusal when the reviewer rejects', async () => {
    const id = await pendingCall({ path: '/srv/no' });
    await approveOverApi(t, id, 'deny');
    const result = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('rejected');
    expect(textOf(result)).toContain('Do not retry');
    expect(upstreamCalls(t).some((c) => c.args.path === '/srv/no')).toBe(false);
  });

  it('after a rejection nobody was waiting for, an identical call is refused at once without a new review', async () => {
    const id = await pendingCall({ path: '/srv/loop' });
    await approveOverApi(t, id, 'deny');
    const again = await client.callTool({ name: 'delete_file', arguments: { path: '/srv/loop' } });
    expect(again.isError).toBe(true);
    expect(textOf(again)).toContain('without a new review');
    expect(textOf(again)).toContain(id);
    const pending = await t.gw.service.list({ status: ['pending'], limit: 100 });
    expect(pending.some((r) => r.action.params.path === '/srv/loop')).toBe(false);
  });

  it('a repeated identical call joins the pending request instead of opening a second review', async () => {
    const id = await pendingCall({ path: '/srv/dup' });
    const again = await client.callTool({ name: 'delete_file', arguments: { path: '/srv/dup' } });
    expect(requestIdIn(textOf(again))).toBe(id);
    const pending = await t.gw.service.list({ status: ['pending'], limit: 100 });
    expect(pending.filter((r) => r.action.params.path === '/srv/dup')).toHaveLength(1);
  });

  it('swapped arguments after approval: the approval covers only the exact call', async () => {
    const id = await pendingCall({ path: '/srv/approved' });
    await approveOverApi(t, id);
    // The model now tries the same tool with different arguments: a new request, held for review.
    const swapped = await client.callTool({ name: 'delete_file', arguments: { path: '/' } });
    expect(swapped.isError).toBe(true);
    expect(requestIdIn(textOf(swapped))).not.toBe(id);
    // The await tool takes only the id: extra arguments cannot change what runs.
    const result = await client.callTool({ name: awaitTool, arguments: { request_id: id, path: '/' } });
    expect(textOf(result)).toBe('deleted /srv/approved');
    const paths = upstreamCalls(t)
      .filter((c) => c.name === 'delete_file')
      .map((c) => c.args.path);
    expect(paths).toContain('/srv/approved');
    expect(paths).not.toContain('/');
  });

  it('an approval that is no longer valid does not run', async () => {
    const id = await pendingCall({ path: '/srv/stale' });
    await approveOverApi(t, id);
    clock.advance(16 * 60_000); // past the 15m validity of the approval
    const result = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('no longer valid');
    expect(upstreamCalls(t).some((c) => c.args.path === '/srv/stale')).toBe(false);
  });

  it('an expired request is reported as expired and never runs', async () => {
    const id = await pendingCall({ path: '/srv/late' });
    clock.advance(2 * 3_600_000); // past the 1h pending TTL
    await t.gw.service.expireDue();
    const result = await client.callTool({ name: awaitTool, arguments: { request_id: id } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('expired');
    expect(upstreamCalls(t).some((c) => c.args.path === '/srv/late')).toBe(false);
  });

  it("another agent cannot await (and so run) someone else's approved request", async () => {
    const id = await pendingCall({ path: '/srv/mine' });
    await approveOverApi(t, id);
    const intruder = await httpClient(t, 'fixture', t.otherAgentKey);
    try {
      const result = await intruder.callTool({ name: awaitTool, arguments: { request_id: id } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain(`there is no request ${id} made by you`);
    } finally {
      await intruder.close();
    }
    expect(upstreamCalls(t).some((c) => c.args.path === '/srv/mine')).toBe(false);
  });

  it('a request made through one server cannot be run through another', async () => {
    const id = await pendingCall({ path: '/srv/cross' });
    await approveOverApi(t, id);
    const elsewhere = await httpClient(t, 'everything');
    try {
      const result = await elsewhere.callTool({ name: awaitTool, arguments: { request_id: id } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("through the MCP server 'everything'");
    } finally {
      await elsewhere.close();
    }
  });

  it('the await tool refuses a missing or malformed id', async () => {
    const missing = await client.callTool({ name: awaitTool, arguments: { request_id: 'req_nope' } });
    expect(missing.isError).toBe(true);
    const malformed = await client.callTool({ name: awaitTool, arguments: {} });
    expect(textOf(malformed)).toContain('request_id must be');
  });
});
