/** One dispatched Server-Sent Event. `id` is the stream's last event ID at dispatch. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * An incremental parser for `text/event-stream` (WHATWG HTML, "Server-sent events"), fed decoded
 * text as it arrives. It is small on purpose: the gateway parses every upstream answer with it, and
 * the web-streams parser the SDK uses costs more than the rest of a forwarded call.
 *
 * Lines end in CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the next are
 * one line end); a blank line dispatches the event; `:` starts a comment; an event with no `data`
 * line is not dispatched; an unterminated event at the end of the stream is dropped.
 * A single event (its data plus any unterminated line) longer than `maxEventChars` throws, so a
 * hostile upstream cannot make the gateway buffer without bound.
 */
export class SseParser {
  /** The last `id` field seen; sent back as Last-Event-ID when the stream is resumed. */
  lastEventId: string | undefined;
  /** The last valid `retry` field, in milliseconds: how long the server asks us to wait before reconnecting. */
  retryMs: number | undefined;

  private pending = '';
  private data = '';
  private hasData = false;
  private event = '';
  private skipLf = false;
  private started = false;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly maxEventChars: number,
  ) {}

  push(text: string): void {
    if (text.length === 0) return;
    let chunk = text;
    if (!this.started) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.skipLf) {
      this.skipLf = false;
      if (chunk.charCodeAt(0) === 10) chunk = chunk.slice(1);
    }
    const buf = this.pending ? this.pending + chunk : chunk;
    const n = buf.length;
    let pos = 0;
    // Positions of the next CR and LF, searched again only once passed (-1: none left).
    let cr = -2;
    let lf = -2;
    for (;;) {
      if (cr !== -1 && cr < pos) cr = buf.indexOf('\r', pos);
      if (lf !== -1 && lf < pos) lf = buf.indexOf('\n', pos);
      if (cr === -1 && lf === -1) break;
      let end: number;
      let next: number;
      if (lf !== -1 && (cr === -1 || lf < cr)) {
        end = lf;
        next = lf + 1;
      } else {
        end = cr;
        if (cr + 1 < n) next = buf.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        else {
          next = cr + 1;
          this.skipLf = true;
        }
      }
      this.line(buf, pos, end);
      pos = next;
    }
    this.pending = pos < n ? buf.slice(pos) : '';
    if (this.pending.length + this.data.length > this.maxEventChars) throw tooLarge(this.maxEventChars);
  }

  private line(buf: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    if (buf.charCodeAt(start) === 58) return; // ':' comment, e.g. a keep-alive
    const colon = buf.indexOf(':', start);
    let field: string;
    let value: string;
    if (colon === -1 || colon >= end) {
      field = buf.slice(start, end);
      value = '';
    } else {
      field = buf.slice(start, colon);
      let from = colon + 1;
      if (from < end && buf.charCodeAt(from) === 32) from++;
      value = buf.slice(from, end);
    }
    switch (field) {
      case 'data':
        this.data = this.hasData ? `${this.data}\n${value}` : value;
        this.hasData = true;
        if (this.data.length > this.maxEventChars) throw tooLarge(this.maxEventChars);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored, as the standard says.
    }
  }

  private dispatch(): void {
    const event = this.event || 'message';
    const { data, hasData } = this;
    this.data = '';
    this.hasData = false;
    this.event = '';
    if (!hasData) return;
    this.onEvent({ event, data, id: this.lastEventId });
  }
}

/**
 * An answer or event over the bound: reading it again would fail the same way. An event's bound
 * counts UTF-16 characters, which the message calls bytes (the same for the ASCII of JSON-RPC).
 */
export class TooLargeError extends Error {
  constructor(what: string, max: number) {
    super(`${what} from the upstream is larger than ${max} bytes; it was dropped`);
    this.name = 'TooLargeError';
  }
}

function tooLarge(max: number): Error {
  return new TooLargeError('an event', max);
}
