import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callsIn,
  httpClient,
  httpFixture,
  recorded,
  startGateway,
  type TestGateway,
  textOf,
} from './harness.js';

describe('MCP gateway with a Streamable HTTP upstream', () => {
  let upstream: Awaited<ReturnType<typeof httpFixture>>;
  let t: TestGateway;
  let client: Client;

  beforeAll(async () => {
    upstream = await httpFixture();
    t = await startGateway({
      extraUpstreams: `    remote:\n      url: ${upstream.url}\n      headers: { Authorization: "Bearer \${TEST_FIXTURE_SECRET}" }\n`,
    });
    client = await httpClient(t, 'remote');
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
    upstream?.child.kill();
  });

  it('forwards an allowed call and records it; refuses a denied one before the upstream', async () => {
    const result = await client.callTool({ name: 'echo', arguments: { text: 'over http' } });
    expect(JSON.parse(textOf(result))).toEqual({ text: 'over http' });
    const denied = await client.callTool({ name: 'drop_database', arguments: { name: 'prod' } });
    expect(denied.isError).toBe(true);
    expect(callsIn(upstream.log).map((c) => c.name)).toEqual(['echo']);
    await recorded(t);
    const [request] = await t.gw.service.list({ status: ['executed'], limit: 1 });
    expect(request?.action.resource).toBe('remote/echo');
  });

  it('serves many calls in a row and at once over the one upstream session', async () => {
    const texts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.callTool({ name: 'echo', arguments: { text: `n${i}` } }).then(textOf),
      ),
    );
    expect(texts.map((x) => JSON.parse(x).text)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`));
  });

  it("relays the upstream's tools/list_changed from its GET stream to the agent", async () => {
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve()),
    );
    await client.callTool({ name: 'add_tool', arguments: {} });
    await changed;
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('late');
  });
});
