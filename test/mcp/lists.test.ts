import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpClient, recorded, startGateway, type TestGateway, textOf } from './harness.js';

describe('MCP gateway: tool lists and the npm "everything" server', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startGateway({ hideDeniedTools: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('hides tools the policy denies for empty arguments, but a hidden tool called anyway is still refused', async () => {
    const client = await httpClient(t);
    try {
      const names = (await client.listTools()).tools.map((x) => x.name);
      expect(names).toContain('echo');
      expect(names).toContain('delete_file');
      expect(names).not.toContain('drop_database');
      const result = await client.callTool({ name: 'drop_database', arguments: { name: 'prod' } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('denied by policy');
    } finally {
      await client.close();
    }
  });

  it('forwards list-changed notifications from the upstream to the agent', async () => {
    const client = await httpClient(t);
    try {
      const changed = new Promise<void>((resolve) =>
        client.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve()),
      );
      await client.callTool({ name: 'add_tool', arguments: {} });
      await changed;
      const names = (await client.listTools()).tools.map((x) => x.name);
      expect(names).toContain('late');
    } finally {
      await client.close();
    }
  });

  it('proxies the real everything server from npm: allowed, denied and hidden tools', async () => {
    const client = await httpClient(t, 'everything');
    try {
      const names = (await client.listTools()).tools.map((x) => x.name);
      expect(names).toContain('get-sum');
      expect(names).toContain('countersign_await_decision');
      expect(names).not.toContain('get-env');
      const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
      expect(textOf(sum)).toContain('5');
      const env = await client.callTool({ name: 'get-env', arguments: {} });
      expect(env.isError).toBe(true);
      expect(textOf(env)).toContain('Refused by Countersign');
      await recorded(t);
      const [executed] = await t.gw.service.list({ status: ['executed'], limit: 1 });
      expect(executed?.action).toMatchObject({ resource: 'everything/get-sum', params: { a: 2, b: 3 } });
    } finally {
      await client.close();
    }
  });
});
