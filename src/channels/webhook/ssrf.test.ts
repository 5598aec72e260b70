import { describe, expect, it } from 'vitest';
import { postJson } from './http.js';
import { AddressPolicy, SsrfError } from './ssrf.js';

describe('SSRF address policy', () => {
  const strict = new AddressPolicy();

  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    'not-an-ip',
  ])('refuses %s', (ip) => {
    expect(strict.permits(ip)).toBe(false);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111'])('permits public %s', (ip) => {
    expect(strict.permits(ip)).toBe(true);
  });

  it('allows exactly the configured networks', () => {
    const p = new AddressPolicy(['127.0.0.1/32', '10.1.0.0/16']);
    expect(p.permits('127.0.0.1')).toBe(true);
    expect(p.permits('127.0.0.2')).toBe(false);
    expect(p.permits('10.1.200.3')).toBe(true);
    expect(p.permits('10.2.0.1')).toBe(false);
  });

  it('rejects a malformed allow entry at startup', () => {
    expect(() => new AddressPolicy(['localhost'])).toThrow(/not an IP or CIDR/);
  });

  it('checks the resolved address of a name, not the name', async () => {
    const options = { addresses: strict, allowHttp: true, timeoutMs: 1000, now: 0 };
    await expect(postJson('http://localhost:9/', {}, '{}', options)).rejects.toBeInstanceOf(SsrfError);
    await expect(postJson('http://169.254.169.254/', {}, '{}', options)).rejects.toBeInstanceOf(SsrfError);
    await expect(postJson('http://0x7f000001:9/', {}, '{}', options)).rejects.toBeInstanceOf(SsrfError);
  });

  it('refuses non-https and credentials in URLs', async () => {
    const options = {
      addresses: new AddressPolicy(['127.0.0.1']),
      allowHttp: false,
      timeoutMs: 1000,
      now: 0,
    };
    await expect(postJson('http://127.0.0.1:9/', {}, '{}', options)).rejects.toThrow(/use https/);
    await expect(postJson('ftp://127.0.0.1/', {}, '{}', { ...options, allowHttp: true })).rejects.toThrow(
      /ftp/,
    );
    await expect(
      postJson('http://u:p@127.0.0.1:9/', {}, '{}', { ...options, allowHttp: true }),
    ).rejects.toThrow(/credentials/);
  });
});
