import canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionHash, canonicalAction, canonicalJson, type Json } from './action.js';

// The reference RFC 8785 implementation our own serializer must match byte for byte.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

describe('canonical action hash', () => {
  it('is RFC 8785 canonical JSON of type, resource and params only', () => {
    const text = canonicalAction({ type: 't', resource: 'r', params: { b: 1, a: [1e21, 'é', null] } });
    expect(text).toBe('{"params":{"a":[1e+21,"é",null],"b":1},"resource":"r","type":"t"}');
  });

  it('serializes exactly as the reference JCS implementation, for any JSON value', () => {
    // Objects with members that have no JSON form (undefined) are skipped as JSON.stringify does.
    const value = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.string({ unit: 'binary' }), fc.option(fc.jsonValue(), { nil: undefined })),
      fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ unit: 'binary' }))),
    );
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(canonicalize(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('follows RFC 8785 for numbers, escapes and key order by UTF-16 code units', () => {
    // From RFC 8785 section 3.2.3 (sorting) and appendix B (numbers).
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '\u00f6': 4, '1': 5 })).toBe(
      '{"\\r":2,"1":5,"\u00f6":4,"\u20ac":1,"\ud83d\ude00":3}',
    );
    expect(canonicalJson([-0, 1e-7, 333333333.3333333, 1e21, 0.000001, 9007199254740992])).toBe(
      '[0,1e-7,333333333.3333333,1e+21,0.000001,9007199254740992]',
    );
    expect(() => canonicalJson({ a: Number.NaN })).toThrow('NaN');
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow('Infinity');
  });

  it('is the SHA-256 of that text', () => {
    // Computed independently: printf '%s' '{"params":{},"resource":"r","type":"a"}' | sha256sum
    expect(actionHash({ type: 'a', resource: 'r', params: {} })).toBe(
      '2cc99ac8e1cdc939a3c073f3a52296f4a7acc891f817f4e452583ab45a5b938e',
    );
  });

  it('does not depend on key order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (generated) => {
        const params = generated as unknown as Record<string, Json>;
        const reversed = Object.fromEntries(Object.entries(params).reverse());
        expect(actionHash({ type: 't', resource: 'r', params })).toBe(
          actionHash({ type: 't', resource: 'r', params: reversed }),
        );
      }),
    );
  });

  it('changes when any bound field changes', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, v) => {
        fc.pre(a !== b);
        expect(actionHash({ type: a, resource: 'r', params: {} })).not.toBe(
          actionHash({ type: b, resource: 'r', params: {} }),
        );
        expect(actionHash({ type: 't', resource: a, params: {} })).not.toBe(
          actionHash({ type: 't', resource: b, params: {} }),
        );
        expect(actionHash({ type: 't', resource: 'r', params: { k: a } })).not.toBe(
          actionHash({ type: 't', resource: 'r', params: { k: b } }),
        );
        expect(actionHash({ type: 't', resource: 'r', params: { k: v } })).not.toBe(
          actionHash({ type: 't', resource: 'r', params: { k: v, extra: true } }),
        );
      }),
    );
  });
});
