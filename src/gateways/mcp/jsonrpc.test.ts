import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defined, expectSkipsOnlyNeutralParses } from './fast-path.case.js';
import { isPlainToolResult } from './jsonrpc.js';

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/** Content items near text content: right most of the time, with wrong types and extra keys. */
const item = fc.oneof(
  {
    arbitrary: fc
      .record({
        type: fc.oneof(fc.constant('text'), fc.constant('image'), fc.string()),
        text: fc.oneof({ arbitrary: fc.string(), weight: 4 }, fc.jsonValue()),
        annotations: maybe(fc.jsonValue()),
        _meta: maybe(fc.jsonValue()),
        extra: maybe(fc.jsonValue()),
      })
      .map(defined),
    weight: 5,
  },
  fc.jsonValue(),
);
/** Values near a tool result. */
const near = fc
  .record({
    content: fc.oneof({ arbitrary: fc.array(item, { maxLength: 3 }), weight: 5 }, fc.jsonValue()),
    isError: maybe(fc.oneof(fc.boolean(), fc.jsonValue())),
    structuredContent: maybe(fc.jsonValue()),
    _meta: maybe(fc.jsonValue()),
    other: maybe(fc.jsonValue()),
  })
  .map(defined);

describe('isPlainToolResult', () => {
  it('accepts only results the SDK schema accepts, and that its parse returns unchanged', () => {
    expectSkipsOnlyNeutralParses(isPlainToolResult, CallToolResultSchema, near);
  });

  it('takes what tools usually return, and leaves anything richer to the schema', () => {
    expect(isPlainToolResult({ content: [{ type: 'text', text: 'n1' }] })).toBe(true);
    expect(isPlainToolResult({ content: [], isError: true })).toBe(true);
    // The schema would strip the unknown key from the item: only the schema may answer.
    expect(isPlainToolResult({ content: [{ type: 'text', text: 'x', extra: 1 }] })).toBe(false);
    expect(isPlainToolResult({ content: [{ type: 'image', data: 'AA==', mimeType: 'image/png' }] })).toBe(
      false,
    );
    expect(isPlainToolResult({ content: [], structuredContent: {} })).toBe(false);
    expect(isPlainToolResult({ content: [], isError: 'yes' })).toBe(false);
    expect(isPlainToolResult({})).toBe(false);
  });
});
