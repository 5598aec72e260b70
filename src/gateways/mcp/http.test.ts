import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Authenticator } from '../../service/auth.js';
import { mcpHttpFront, upstreamName } from './http.js';

describe('upstreamName', () => {
  it('finds the name in /mcp/NAME, encoded or not, with or without a query', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((n) => !n.includes('/')),
        fc.option(fc.string(), { nil: undefined }),
        (name, query) => {
          const url = `/mcp/${encodeURIComponent(name)}${query === undefined ? '' : `?${query}`}`;
          expect(upstreamName(url)).toBe(name);
        },
      ),
    );
  });

  it('leaves every other path to the router', () => {
    for (const url of [
      '/mcp',
      '/mcp/',
      '/mcp/?x',
      '/mcp/a/b',
      '/mcp/a/',
      '/mcpx/a',
      '/MCP/a',
      '/mcp/%E0%A4%A',
      '/v1/mcp/a',
    ])
      expect(upstreamName(url)).toBeUndefined();
  });
});

describe('mcpHttpFront', () => {
  it('answers 503 once it is closing, before it authenticates anyone', async () => {
    let authenticated = 0;
    const authenticator = {
      authenticate: async () => {
        authenticated++;
        throw new Error('not reached');
      },
    } as unknown as Authenticator;
    const front = mcpHttpFront({
      host: {
        has: () => true,
        openSession: () => Promise.reject(new Error('not reached')),
        closeSession: () => {},
      },
      authenticator,
      maxMessageBytes: 1024,
      log: { error: () => {} },
    });
    const server = createServer((req, res) => {
      if (!front.handle(req, res)) res.writeHead(418).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // Not an MCP path: left to whatever serves the rest.
      expect((await fetch(`${base}/mcp/a/b`)).status).toBe(418);
      await front.close();
      const res = await fetch(`${base}/mcp/fixture`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('shutting down');
      expect(authenticated).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
