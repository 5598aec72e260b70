import { describe, expect, it } from 'vitest';
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
