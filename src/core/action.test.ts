import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionHash, canonicalAction, type Json } from './action.js';

describe('canonical action hash', () => {
  it('is RFC 8785 canonical JSON of type, resource and params only', () => {
    const text = canonicalAction({ type: 't', resource: 'r', params: { b: 1, a: [1e21, 'é', null] } });
    expect(text).toBe('{"params":{"a":[1e+21,"é",null],"b":1},"resource":"r","type":"t"}');
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
