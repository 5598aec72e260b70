import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { Upstream } from './upstream.js';

const logger = { info() {}, warn() {}, debug() {} };
const make = (config: ConstructorParameters<typeof Upstream>[0]['config']) =>
  new Upstream({ name: 'u', config, logger, version: '0', onListChanged() {} });

describe('Upstream.redact', () => {
  it('removes env values of a stdio upstream', () => {
    const u = make({
      kind: 'stdio',
      command: 'x',
      args: [],
      env: { TOKEN: 'ghp_supersecret', DEBUG: '1' },
      cwd: null,
    });
    expect(u.redact('failed with ghp_supersecret in it; DEBUG=1')).toBe(
      'failed with [redacted] in it; DEBUG=1',
    );
  });

  it('removes header values and URL credentials of an HTTP upstream', () => {
    const u = make({
      kind: 'http',
      url: 'https://bot:p4ssw0rd-x@example.com/mcp?api_key=k-123456',
      headers: { Authorization: 'Bearer tok-abcdef' },
    });
    const text = u.redact(
      'GET https://bot:p4ssw0rd-x@example.com/mcp?api_key=k-123456 sent Bearer tok-abcdef',
    );
    expect(text).not.toContain('p4ssw0rd-x');
    expect(text).not.toContain('k-123456');
    expect(text).not.toContain('tok-abcdef');
    expect(u.redact('Bearer token tok-abcdef rejected')).toBe('Bearer token [redacted] rejected');
  });
});

describe('Upstream logs', () => {
  it('reports a server that cannot be started once per attempt, as "cannot connect"', async () => {
    const lines: string[] = [];
    const u = new Upstream({
      name: 'u',
      config: { kind: 'stdio', command: '/nonexistent/countersign-test/srv', args: [], env: {}, cwd: null },
      logger: { info() {}, debug() {}, warn: (_o, msg) => lines.push(msg) },
      version: '0',
      onListChanged() {},
    });
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        await expect(u.connected()).rejects.toThrow(/could not be started or reached/);
        expect(lines).toEqual(Array(attempt).fill('cannot connect to the MCP upstream'));
      }
    } finally {
      await u.close();
    }
  });

  it('reports a connection that was open and then lost as "closed"', async () => {
    const lines: string[] = [];
    const fixture = fileURLToPath(new URL('../../../test/mcp/fixture-server.mjs', import.meta.url));
    const u = new Upstream({
      name: 'u',
      config: { kind: 'stdio', command: process.execPath, args: [fixture], env: {}, cwd: null },
      logger: { info() {}, debug() {}, warn: (_o, msg) => lines.push(msg) },
      version: '0',
      onListChanged() {},
    });
    try {
      const client = await u.connected();
      await client.callTool({ name: 'crash', arguments: {} }).catch(() => {});
      await vi.waitFor(() => expect(lines).toContain('the MCP upstream connection closed'));
      expect(lines).not.toContain('cannot connect to the MCP upstream');
    } finally {
      await u.close();
    }
  });
});
