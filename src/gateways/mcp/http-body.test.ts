import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyAborted, readJsonBody } from './http-body.js';
import { ExchangeError } from './http-transport.js';

const limit = 64;

/** What `readJsonBody` settled with, for one request to a real loopback server. */
type Outcome = { value: unknown } | { error: unknown };

describe('readJsonBody', () => {
  let server: Server;
  let port: number;
  let settled: (o: Outcome) => void = () => {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      // The test only looks at the outcome; the client gets an empty answer, whatever is left of
      // its body discarded.
      readJsonBody(req, limit)
        .then(
          (value) => settled({ value }),
          (error: unknown) => settled({ error }),
        )
        .finally(() => {
          req.resume();
          res.end();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends a POST with these headers and body chunks; resolves with what the reader decided. */
  const send = (headers: Record<string, string>, chunks: string[]): Promise<Outcome> => {
    const outcome = new Promise<Outcome>((resolve) => {
      settled = resolve;
    });
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers });
    req.on('error', () => {});
    req.on('response', (r) => r.resume());
    for (const c of chunks) req.write(c);
    req.end();
    return outcome;
  };
  const json = { 'content-type': 'application/json' };
  const refusal = (o: Outcome) => {
    expect('error' in o && o.error instanceof ExchangeError).toBe(true);
    const e = (o as { error: ExchangeError }).error;
    return { status: e.status, code: e.code };
  };

  it('parses a JSON body however it is split into chunks, with or without a charset', async () => {
    expect(await send(json, ['{"a":', '[1,2', ']}'])).toEqual({ value: { a: [1, 2] } });
    const body = '{"é":"ü"}';
    expect(
      await send(
        {
          'content-type': 'Application/JSON; charset=utf-8',
          'content-length': String(Buffer.byteLength(body)),
        },
        [body],
      ),
    ).toEqual({ value: { é: 'ü' } });
  });

  it('gives undefined for a POST with no body and no content type, for the caller to refuse', async () => {
    expect(await send({ 'content-length': '0' }, [])).toEqual({ value: undefined });
  });

  it('refuses a body that is not declared as JSON with 415, declared or not', async () => {
    expect(refusal(await send({ 'content-type': 'text/plain' }, ['{}']))).toEqual({
      status: 415,
      code: -32600,
    });
    expect(refusal(await send({ 'content-type': 'application/json-seq' }, ['{}']))).toEqual({
      status: 415,
      code: -32600,
    });
    expect(refusal(await send({ 'content-length': '2' }, ['{}']))).toEqual({ status: 415, code: -32600 });
  });

  it('refuses a body past the limit with 413: declared up front, or found while it streams in', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(limit) });
    expect(refusal(await send({ ...json, 'content-length': String(big.length) }, [big]))).toEqual({
      status: 413,
      code: -32600,
    });
    expect(refusal(await send(json, [big.slice(0, 40), big.slice(40)]))).toEqual({
      status: 413,
      code: -32600,
    });
    // Exactly at the limit is still accepted.
    const exact = JSON.stringify({ t: 'y'.repeat(limit - 8) });
    expect(exact.length).toBe(limit);
    expect(await send(json, [exact])).toEqual({ value: JSON.parse(exact) });
  });

  it('answers text that is not JSON with a JSON-RPC parse error', async () => {
    expect(refusal(await send(json, ['{"jsonrpc": "2.0", ']))).toEqual({ status: 400, code: -32700 });
    expect(refusal(await send({ ...json, 'content-length': '0' }, []))).toEqual({
      status: 400,
      code: -32700,
    });
  });

  it('gives up, without an answer to send, when the client hangs up halfway through its body', async () => {
    const outcome = new Promise<Outcome>((resolve) => {
      settled = resolve;
    });
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"a":',
      );
      socket.destroy();
    });
    socket.on('error', () => {});
    const o = await outcome;
    expect('error' in o && o.error instanceof BodyAborted).toBe(true);
  });
});
