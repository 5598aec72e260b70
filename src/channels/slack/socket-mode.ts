import WebSocket from 'ws';
import type { ServiceLogger } from '../../service/service.js';
import type { InteractionReply, SlackInteractions } from './interactions.js';
import type { SlackWebApi } from './web-api.js';

export interface SocketModeOptions {
  api: SlackWebApi;
  appToken: string;
  interactions: SlackInteractions;
  logger?: ServiceLogger;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

interface Envelope {
  envelope_id?: string;
  type?: string;
  payload?: unknown;
  accepts_response_payload?: boolean;
  reason?: string;
}

/**
 * Socket Mode: for gateways without public ingress, Slack delivers interactions over a WebSocket
 * the gateway opens (apps.connections.open with the app-level token). Every envelope is
 * acknowledged; a modal submission's ack carries the response (validation errors). Slack asks
 * clients to reconnect now and then (`disconnect`); any drop reconnects with backoff.
 */
export class SocketModeClient {
  private ws: WebSocket | undefined;
  private stopped = true;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves once a connection has said hello; for tests and readiness. */
  connected: Promise<void> = Promise.resolve();
  private markConnected: () => void = () => {};

  constructor(private readonly options: SocketModeOptions) {}

  start(): void {
    this.stopped = false;
    this.resetConnected();
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.terminate();
      });
    }
  }

  private resetConnected(): void {
    this.connected = new Promise<void>((resolve) => {
      this.markConnected = resolve;
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let url: string;
    try {
      const res = await this.options.api.call('apps.connections.open', {}, this.options.appToken);
      url = String(res.url);
    } catch (error) {
      this.options.logger?.warn(
        { err: (error as Error).message },
        'Socket Mode: apps.connections.open failed',
      );
      return this.retry();
    }
    if (this.stopped) return;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.on('message', (data) => void this.onMessage(ws, data.toString()));
    ws.on('error', (error) =>
      this.options.logger?.warn({ err: error.message }, 'Socket Mode connection error'),
    );
    ws.on('close', () => {
      if (this.ws === ws) {
        this.ws = undefined;
        this.resetConnected();
        this.retry();
      }
    });
  }

  private retry(): void {
    if (this.stopped) return;
    this.failures++;
    const base = this.options.reconnectBaseMs ?? 1000;
    const step = Math.min(this.options.reconnectMaxMs ?? 60_000, base * 2 ** Math.min(10, this.failures - 1));
    this.timer = setTimeout(() => void this.connect(), Math.round(step / 2 + (step / 2) * Math.random()));
    this.timer.unref();
  }

  private async onMessage(ws: WebSocket, text: string): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (envelope.type === 'hello') {
      this.failures = 0;
      this.markConnected();
      return;
    }
    if (envelope.type === 'disconnect') {
      // Slack is about to close this socket (refresh, maintenance): open the next one now.
      this.options.logger?.warn({ reason: envelope.reason }, 'Socket Mode: Slack asked to reconnect');
      this.resetConnected();
      if (this.ws === ws) this.ws = undefined;
      ws.close();
      void this.connect();
      return;
    }
    if (!envelope.envelope_id) return;
    let reply: InteractionReply = { status: 200 };
    if (envelope.type === 'interactive') {
      reply = await this.options.interactions
        .handle(envelope.payload, `socket:${envelope.envelope_id}`)
        .catch((error: unknown) => {
          this.options.logger?.error({ err: error }, 'Socket Mode interaction failed');
          return { status: 500 };
        });
    }
    const ack: Record<string, unknown> = { envelope_id: envelope.envelope_id };
    if (reply.body && envelope.accepts_response_payload) ack.payload = reply.body;
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(ack));
  }
}
