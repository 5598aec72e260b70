import fc from 'fast-check';
import { expect } from 'vitest';
import type { z } from 'zod';

/** Drops the keys whose value is `undefined`, as JSON would. */
export const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * Holds a fast-path check to the SDK schema whose parse it lets the gateway skip: every value it
 * accepts, among values near the shape (`near`) and any JSON, the schema accepts too and parses to
 * an equal value, so skipping the parse changes nothing.
 */
export function expectSkipsOnlyNeutralParses(
  accepts: (value: unknown) => boolean,
  schema: z.ZodType,
  near: fc.Arbitrary<unknown>,
): void {
  fc.assert(
    fc.property(fc.oneof(near, fc.jsonValue()), (value) => {
      if (!accepts(value)) return;
      const parsed = schema.safeParse(value);
      expect(parsed.success).toBe(true);
      expect(parsed.data).toEqual(value);
    }),
    { numRuns: 10000 },
  );
}
