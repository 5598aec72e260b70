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

describe('SseParser', () => {
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
