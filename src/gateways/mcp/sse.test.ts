import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SseEvent, SseParser } from './sse.js';

function parse(chunks: string[], max = 1_000_000) {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e), max);
  for (const c of chunks) parser.push(c);
  return { events, parser };
}

/** Every way of cutting `text` in two, so chunk boundaries fall on every character. */
function everySplit(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
}

/**
 * The standard's algorithm over a whole stream at once, written as plainly as it reads: split into
 * lines at CRLF, LF or CR, then process each line. The property below holds the incremental
 * parser to it for any chunking.
 */
function reference(stream: string) {
  const text = stream.startsWith('\ufeff') ? stream.slice(1) : stream;
  const lines = text.split(/\r\n|\n|\r/);
  // The last piece has no line end after it: an unterminated line, never processed.
  lines.pop();
  const events: SseEvent[] = [];
  let lastEventId: string | undefined;
  let retryMs: number | undefined;
  let event = '';
  let data: string[] = [];
  for (const line of lines) {
    if (line === '') {
      if (data.length > 0) events.push({ event: event || 'message', data: data.join('\n'), id: lastEventId });
      event = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
  }
  return { events, lastEventId, retryMs };
}

// Streams built from the pieces that matter to the grammar: field names, colons, spaces, every
// kind of line end, NUL, digits, a BOM, and other text.
const piece = fc.constantFrom(
  'data',
  'event',
  'id',
  'retry',
  ':',
  ' ',
  '\n',
  '\r',
  '\r\n',
  '\0',
  '7',
  'x',
  '{"a":1}',
  '\ufeff',
  'é',
);
const lineEnd = fc.constantFrom('\n', '\r', '\r\n');
// Well-formed lines most of the time, so events do get dispatched and fields do get read.
const line = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('data', 'event', 'id', 'retry', 'other', ''),
      fc.constantFrom('', ':', ': ', ':  '),
      fc.array(piece, { maxLength: 3 }),
      lineEnd,
    )
    .map(([field, sep, value, end]) => `${field}${sep}${value.join('')}${end}`),
  lineEnd,
);
const stream = fc.oneof(
  fc.array(piece, { maxLength: 60 }).map((p) => p.join('')),
  fc
    .tuple(fc.constantFrom('', '\ufeff'), fc.array(line, { maxLength: 20 }))
    .map(([bom, l]) => bom + l.join('')),
);

/** Cuts `text` at the given positions. */
function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((i) => i % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(text.slice(from, p));
    from = p;
  }
  chunks.push(text.slice(from));
  return chunks;
}

describe('SseParser', () => {
  it('dispatches what the standard algorithm does, for any stream cut into any chunks', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 8 }), (text, at) => {
        const { events, parser } = parse(cut(text, at));
        const expected = reference(text);
        expect(events).toEqual(expected.events);
        expect(parser.lastEventId).toBe(expected.lastEventId);
        expect(parser.retryMs).toBe(expected.retryMs);
      }),
      { numRuns: 3000 },
    );
  });

  it('parses the events an MCP server sends, with any chunking', () => {
    const text = 'event: message\nid: 7\ndata: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\n\n';
    for (const chunks of [[text], ...everySplit(text), [...text]]) {
      const { events, parser } = parse(chunks);
      expect(events).toEqual([
        { event: 'message', data: '{"a":1}', id: '7' },
        { event: 'message', data: '{"b":2}', id: '7' },
      ]);
      expect(parser.lastEventId).toBe('7');
    }
  });

  it('accepts CRLF and lone CR line ends, also when a CRLF is split across chunks', () => {
    const text = 'data: one\r\ndata: two\r\n\r\ndata: three\r\rdata:four\n\n';
    for (const chunks of everySplit(text)) {
      expect(parse(chunks).events.map((e) => e.data)).toEqual(['one\ntwo', 'three', 'four']);
    }
  });

  it('follows the field rules: one optional space, no-colon fields, unknown fields, retry, BOM', () => {
    const { events, parser } = parse([
      '\uFEFFdata:  two spaces\n\n',
      'data\n\n',
      'event: custom\nfoo: bar\ndata: x\n\n',
      'retry: 2500\nretry: soon\nid: a\0b\n\n',
    ]);
    expect(events).toEqual([
      { event: 'message', data: ' two spaces', id: undefined },
      { event: 'message', data: '', id: undefined },
      { event: 'custom', data: 'x', id: undefined },
    ]);
    expect(parser.retryMs).toBe(2500);
    expect(parser.lastEventId).toBeUndefined();
  });

  it('does not dispatch an event without data, nor one left unterminated', () => {
    const { events, parser } = parse(['id: 3\n\nevent: message\n\ndata: partial\n']);
    expect(events).toEqual([]);
    expect(parser.lastEventId).toBe('3');
  });

  it('decodes a multi-line payload as the data lines joined by LF', () => {
    const { events } = parse(['data: {\ndata: "k": 1\ndata: }\n\n']);
    expect(JSON.parse(events[0]?.data ?? '')).toEqual({ k: 1 });
  });

  it('refuses an event that grows past the bound, in data or in one endless line', () => {
    expect(() => parse(['data: 0123456789\n', 'data: 0123456789\n'], 16)).toThrow(/larger than 16/);
    expect(() => parse(['data: 01234', '56789', '0123456789'], 16)).toThrow(/larger than 16/);
    // Many small events in one stream are fine: the bound is per event.
    expect(
      parse(
        Array.from({ length: 100 }, () => 'data: 0123456789\n\n'),
        16,
      ).events,
    ).toHaveLength(100);
  });
});
