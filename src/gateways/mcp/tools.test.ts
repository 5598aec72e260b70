import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../core/identity.js';
import { approvalNote, shapeTools } from './tools.js';

const actor: Actor = { id: 'a', name: 'agent', principal: null, via: 'api_key' };
const tool = (name: string, description?: string): Tool => ({
  name,
  ...(description ? { description } : {}),
  inputSchema: { type: 'object' },
});
const decisions: Record<string, 'allow' | 'deny' | 'require_approval' | null> = {
  'up/read': 'allow',
  'up/write': 'require_approval',
  'up/drop': 'deny',
  'up/unknown': null,
};

describe('shapeTools', () => {
  const preview = (_: Actor, resource: string) => decisions[resource] ?? null;
  const tools = [
    tool('read', 'Reads'),
    tool('write', 'Writes'),
    tool('drop'),
    tool('unknown'),
    tool('countersign_await_decision'),
  ];

  it('notes tools that need approval and hides denied ones when asked', () => {
    const shaped = shapeTools(tools, { upstream: 'up', actor, preview, hideDenied: true });
    expect(shaped.map((t) => t.name)).toEqual(['read', 'write', 'unknown']);
    expect(shaped[1]?.description).toBe(`Writes\n\n${approvalNote}`);
    expect(shaped[0]?.description).toBe('Reads');
  });

  it('keeps denied tools when hiding is off, and never passes an upstream tool named like the gateway tool', () => {
    const shaped = shapeTools(tools, { upstream: 'up', actor, preview, hideDenied: false });
    expect(shaped.map((t) => t.name)).toEqual(['read', 'write', 'drop', 'unknown']);
  });

  it('evaluates each tool as UPSTREAM/TOOL for the calling actor', () => {
    const seen: string[] = [];
    shapeTools([tool('x')], {
      upstream: 'srv',
      actor,
      preview: (a, r) => {
        seen.push(`${a.id}:${r}`);
        return 'allow';
      },
      hideDenied: true,
    });
    expect(seen).toEqual(['a:srv/x']);
  });
});
