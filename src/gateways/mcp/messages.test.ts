import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pendingRequest } from '../../../test/support/fixtures.js';
import { deniedText, refusedByGatewayText, sentence } from './messages.js';

const denied = (reason: string) =>
  pendingRequest(
    { anyOf: [], denyThreshold: 1 },
    {
      status: 'denied',
      action: { type: 'mcp.tools.call', resource: 'files/drop_table', params: {}, justification: 'x' },
      policy: { version: 'v', rule: 'no-drop', reason, decision: 'deny' },
    },
  );

describe('what the model reads', () => {
  it('quotes a policy message that ends with a full stop without doubling it', () => {
    const text = deniedText(denied("matched rule 'no-drop' (no-drop): Never through an agent."));
    expect(text).toContain(
      "Reason: matched rule 'no-drop' (no-drop): Never through an agent. Nothing was run.",
    );
  });

  it('ends every quoted reason with exactly one mark, whatever the reason ends with', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('', '.', '!', '?', ' ', '. '), (body, end) => {
        const reason = `${body.replace(/[.!?\s]+$/, '')}x${end}`;
        const quoted = sentence(reason);
        expect(quoted).toMatch(/x[.!?]$/);
        expect(deniedText(denied(reason))).toContain(`Reason: ${quoted} Nothing was run.`);
        expect(refusedByGatewayText(reason)).toBe(
          `Refused by Countersign: ${quoted} Nothing was run. Do not retry this call.`,
        );
      }),
    );
  });
});
