import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A local fake of the Slack Web API and of Socket Mode, faithful in what it checks: the bearer
 * token per method (bot token, or app-level token for apps.connections.open), a JSON body, the
 * arguments each method requires, and Block Kit limits. It records every call, keeps the messages
 * it "posted" so chat.update must name one, and can be told to fail.
 */

export interface Call {
  method: string;
  token: string;
  body: Record<string, unknown>;
}

type Json = Record<string, unknown>;
type Failure = { status: number; body?: Json; headers?: Record<string, string> };

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, max: number, types = ['plain_text', 'mrkdwn']): string | null => {
  if (!isObj(v) || !types.includes(String(v.type)) || typeof v.text !== 'string')
    return 'text object malformed';
  if (v.text.length === 0 || v.text.length > max) return `text length ${v.text.length} outside 1..${max}`;
  return null;
};

/** Block Kit constraints we rely on; returns the first problem found, like Slack's invalid_blocks. */
export function checkBlocks(blocks: unknown, max = 50): string | null {
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > max) return 'blocks must be 1..50';
  const actionIds = new Set<string>();
  for (const b of blocks) {
    if (!isObj(b)) return 'block is not an object';
    switch (b.type) {
      case 'header': {
        const e = text(b.text, 150, ['plain_text']);
        if (e) return `header: ${e}`;
        break;
      }
      case 'section': {
        if (b.text === undefined && b.fields === undefined) return 'section needs text or fields';
        if (b.text !== undefined) {
          const e = text(b.text, 3000);
          if (e) return `section: ${e}`;
        }
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length > 10) return 'section fields must be at most 10';
          for (const f of b.fields) {
            const e = text(f, 2000);
            if (e) return `section field: ${e}`;
          }
        }
        break;
      }
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10)
          return 'context elements 1..10';
        for (const el of b.elements) {
          const e = text(el, 3000);
          if (e) return `context: ${e}`;
        }
        break;
      case 'actions':
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 25)
          return 'actions elements 1..25';
        for (const el of b.elements) {
          if (!isObj(el) || el.type !== 'button') return 'only buttons are expected';
          const e = text(el.text, 75, ['plain_text']);
          if (e) return `button: ${e}`;
          if (typeof el.action_id !== 'string' || actionIds.has(el.action_id))
            return 'action_id missing or repeated';
          actionIds.add(el.action_id);
          if (typeof el.value !== 'string' || el.value.length > 2000) return 'button value too long';
          if (el.confirm !== undefined) {
            const c = el.confirm as Json;
            if (
              text(c.title, 100, ['plain_text']) ||
              text(c.text, 300) ||
              text(c.confirm, 30, ['plain_text'])
            ) {
              return 'button confirm dialog malformed';
            }
          }
        }
        break;
      case 'input':
        if (!isObj(b.element) || text(b.label, 2000, ['plain_text'])) return 'input needs element and label';
        break;
      default:
        return `unknown block type ${String(b.type)}`;
    }
  }
  return null;
}

export class FakeSlack {
  readonly calls: Call[] = [];
  readonly messages = new Map<
    string,
    { channel: string; ts: string; text: string; blocks: unknown; thread?: string }
  >();
  /** Failures to return for the next calls of a method, in order. */
  readonly failures = new Map<string, Failure[]>();
  /** Every Web API call answers this while set (Slack down). */
  down: Failure | null = null;
  url = '';
  readonly acks: Json[] = [];
  sockets: WebSocket[] = [];
  connectionsOpened = 0;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private seq = 1;
  private ackWaiters: Array<(ack: Json) => void> = [];
  private socketWaiters: Array<(ws: WebSocket) => void> = [];

  constructor(
    readonly botToken = 'xoxb-test-bot-token',
    readonly appToken = 'xapp-test-app-token',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/link?ticket=')) return socket.destroy();
      this.wss?.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  get apiUrl(): string {
    return `${this.url}/api`;
  }

  callsOf(method: string): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  fail(method: string, ...failures: Failure[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...failures]);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: Json, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const method = (req.url ?? '').replace(/^\/api\//, '');
    if (req.method !== 'POST' || !req.url?.startsWith('/api/'))
      return send(404, { ok: false, error: 'unknown_method' });
    if (!String(req.headers['content-type']).startsWith('application/json')) {
      return send(200, { ok: false, error: 'invalid_form_data' });
    }
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    let body: Json;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    } catch {
      return send(200, { ok: false, error: 'invalid_json' });
    }
    this.calls.push({ method, token, body });
    if (this.down) return send(this.down.status, this.down.body ?? { ok: false }, this.down.headers);
    const queued = this.failures.get(method)?.shift();
    if (queued)
      return send(queued.status, queued.body ?? { ok: false, error: 'internal_error' }, queued.headers);
    const wanted = method === 'apps.connections.open' ? this.appToken : this.botToken;
    if (!token) return send(200, { ok: false, error: 'not_authed' });
    if (token !== wanted) return send(200, { ok: false, error: 'invalid_auth' });
    const result = this.handle(method, body);
    return send(200, result);
  }

  private handle(method: string, body: Json): Json {
    switch (method) {
      case 'chat.postMessage': {
        if (typeof body.channel !== 'string' || !body.channel)
          return { ok: false, error: 'channel_not_found' };
        if (typeof body.text !== 'string' && body.blocks === undefined)
          return { ok: false, error: 'no_text' };
        if (body.blocks !== undefined && checkBlocks(body.blocks)) {
          return { ok: false, error: 'invalid_blocks', detail: checkBlocks(body.blocks) };
        }
        // A user id opens (or reuses) the DM with that user, as Slack does.
        const channel = body.channel.startsWith('U') ? `D${body.channel.slice(1)}` : body.channel;
        const ts = `${1_700_000_000 + this.seq++}.000100`;
        this.messages.set(`${channel}/${ts}`, {
          channel,
          ts,
          text: String(body.text ?? ''),
          blocks: body.blocks,
          ...(typeof body.thread_ts === 'string' ? { thread: body.thread_ts } : {}),
        });
        return { ok: true, channel, ts, message: { text: body.text, blocks: body.blocks } };
      }
      case 'chat.update': {
        const key = `${String(body.channel)}/${String(body.ts)}`;
        const existing = this.messages.get(key);
        if (!existing) return { ok: false, error: 'message_not_found' };
        if (body.blocks !== undefined && checkBlocks(body.blocks))
          return { ok: false, error: 'invalid_blocks' };
        existing.blocks = body.blocks;
        existing.text = String(body.text ?? existing.text);
        return { ok: true, channel: existing.channel, ts: existing.ts };
      }
      case 'views.open': {
        const view = body.view;
        if (typeof body.trigger_id !== 'string') return { ok: false, error: 'invalid_trigger_id' };
        if (!isObj(view) || view.type !== 'modal' || text(view.title, 24, ['plain_text'])) {
          return { ok: false, error: 'invalid_arguments' };
        }
        if (view.submit !== undefined && text(view.submit, 24, ['plain_text']))
          return { ok: false, error: 'invalid_arguments' };
        if (checkBlocks(view.blocks, 100)) return { ok: false, error: 'invalid_blocks' };
        if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000) {
          return { ok: false, error: 'invalid_arguments' };
        }
        return { ok: true, view: { id: `V${this.seq++}`, ...view } };
      }
      case 'chat.postEphemeral':
        if (
          typeof body.channel !== 'string' ||
          typeof body.user !== 'string' ||
          typeof body.text !== 'string'
        ) {
          return { ok: false, error: 'invalid_arguments' };
        }
        return { ok: true, message_ts: `${1_700_000_000 + this.seq++}.000200` };
      case 'apps.connections.open':
        this.connectionsOpened++;
        return { ok: true, url: `${this.url.replace('http', 'ws')}/link?ticket=${this.seq++}` };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.push(ws);
    ws.on('message', (data) => {
      const ack = JSON.parse(data.toString()) as Json;
      this.acks.push(ack);
      for (const w of this.ackWaiters.splice(0)) w(ack);
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0TEST' } }));
    for (const w of this.socketWaiters.splice(0)) w(ws);
  }

  /** The next socket to connect (or the open one). */
  socket(): Promise<WebSocket> {
    const open = this.sockets.filter((s) => s.readyState === s.OPEN);
    const last = open[open.length - 1];
    if (last) return Promise.resolve(last);
    return new Promise((resolve) => this.socketWaiters.push(resolve));
  }

  /** Sends an interactive envelope over Socket Mode and resolves with our ack. */
  async deliver(payload: Json, envelopeId = `env-${this.seq++}`): Promise<Json> {
    const ws = await this.socket();
    const acked = new Promise<Json>((resolve) => {
      const check = (ack: Json) =>
        ack.envelope_id === envelopeId ? resolve(ack) : this.ackWaiters.push(check);
      this.ackWaiters.push(check);
    });
    ws.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type: 'interactive',
        payload,
        accepts_response_payload: true,
      }),
    );
    return acked;
  }

  /** Slack asking the client to reconnect, then closing the socket. */
  async refresh(): Promise<void> {
    const ws = await this.socket();
    ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested' }));
  }
}
