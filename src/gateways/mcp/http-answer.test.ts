import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CallCancel } from '../../core/cancel.js';
import { type Answer, exchange } from './http-answer.js';

let server: Server | undefined;
let pool: Pool | undefined;

afterEach(async () => {
  await pool?.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  pool = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1], connections?: number): Promise<Pool> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections });
  return pool;
}

const post = (p: Pool, signal = new CallCancel()) =>
  exchange(p, {
    path: '/',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    signal,
  });

function text(answer: Answer): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    answer.body.read({ data: (c) => (out += c.toString()), end: () => resolve(out), fail: reject });
  });
}

describe('exchange: one request on an undici pool with our own handler', () => {
  it('gives the status, the three headers the transport reads (a repeated one as a list) and the body', async () => {
    const p = await serve((req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.setHeader('MCP-Session-Id', ['a', 'b']);
      res.setHeader('X-Other', 'ignored');
      res.writeHead(201);
      res.write('part one, ');
      setTimeout(() => res.end(`part two for ${req.method}`), 20);
    });
    const answer = await post(p);
    expect(answer.statusCode).toBe(201);
    expect(answer.headers).toEqual({ 'content-type': 'text/event-stream', 'mcp-session-id': ['a', 'b'] });
    expect(await text(answer)).toBe('part one, part two for POST');
  });

  it('holds what arrives before the body is read and hands it over in order', async () => {
    const p = await serve((_req, res) => res.end('0123456789'.repeat(1000)));
    const answer = await post(p);
    // The whole body has arrived by now, and nobody was reading.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await text(answer)).toBe('0123456789'.repeat(1000));
  });

  it('rejects at once when aborted before it starts, and fails a body cut by an abort', async () => {
    const p = await serve((_req, res) => {
      res.writeHead(200);
      res.write('started');
    });
    const early = new CallCancel();
    early.abort();
    await expect(post(p, early)).rejects.toThrow(/aborted/i);
    const signal = new CallCancel();
    const answer = await post(p, signal);
    const reading = text(answer);
    signal.abort();
    await expect(reading).rejects.toThrow(/aborted/i);
  });

  it('fails the body when the server closes the connection mid-answer', async () => {
    const p = await serve((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('short');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const answer = await post(p);
    await expect(text(answer)).rejects.toThrow();
  });

  it('dumps a small body and keeps its connection, and closes the connection of one past 128 KiB', async () => {
    const sockets: Socket[] = [];
    // One connection: a second request reuses it, or opens a new one only if it was closed.
    const p = await serve((req, res) => {
      if (!sockets.includes(req.socket)) sockets.push(req.socket);
      res.end(req.url === '/big' ? 'x'.repeat(1024 * 1024) : 'small');
    }, 1);
    await (await post(p)).body.dump();
    await (await post(p)).body.dump();
    expect(sockets).toHaveLength(1);
    const big = await exchange(p, { path: '/big', method: 'GET', headers: {}, signal: new CallCancel() });
    // Not events.once: the server's socket may report the reset as an error before it closes.
    const closed = new Promise((resolve) => sockets[0]?.once('close', resolve));
    await big.body.dump();
    await closed;
    await (await post(p)).body.dump();
    expect(sockets).toHaveLength(2);
  });

  it('stops handing over held chunks once the reader destroys the body', async () => {
    const p = await serve((_req, res) => {
      res.write('a'.repeat(70_000));
      setTimeout(() => res.end('b'), 20);
    });
    const answer = await post(p);
    // Both chunks and the end are held by the time the reader starts.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const heard: string[] = [];
    answer.body.read({
      data: () => {
        heard.push('data');
        answer.body.destroy();
      },
      end: () => heard.push('end'),
      fail: () => heard.push('fail'),
    });
    expect(heard).toEqual(['data']);
  });

  it('refuses a second reader of the same body', async () => {
    const p = await serve((_req, res) => res.end('once'));
    const answer = await post(p);
    await text(answer);
    expect(() => answer.body.read({ data() {}, end() {}, fail() {} })).toThrow(/once/);
  });
});
