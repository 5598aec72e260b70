import { describe, expect, it } from 'vitest';
import type { Reviewer } from '../core/identity.js';
import { type ChatIdentityLinks, firstOf, StaticChatLinks } from './chat-links.js';

const ana: Reviewer = { id: 'ana', email: 'ana@acme.test', name: 'Ana', groups: ['sre'] };
const directory = { get: (id: string) => (id === 'ana' ? ana : undefined) };

describe('chat links from the configuration', () => {
  const links = new StaticChatLinks(
    [{ platform: 'slack', team: 'T1', user: 'U1', reviewer: 'ana' }],
    directory,
  );

  it('resolve only the exact platform, workspace and user', async () => {
    expect(await links.resolve('slack', 'T1', 'U1')).toEqual(ana);
    expect(await links.resolve('slack', 'T2', 'U1')).toBeUndefined();
    expect(await links.resolve('teams', 'T1', 'U1')).toBeUndefined();
    expect(links.userFor('slack', 'ANA@acme.test')).toEqual({ team: 'T1', user: 'U1' });
  });

  it('combine with other sources, first answer wins', async () => {
    const none: ChatIdentityLinks = { resolve: async () => undefined };
    const other: ChatIdentityLinks = { resolve: async () => ({ ...ana, id: 'other' }) };
    expect((await firstOf(none, links, other).resolve('slack', 'T1', 'U1'))?.id).toBe('ana');
    expect((await firstOf(none, links, other).resolve('slack', 'T9', 'U9'))?.id).toBe('other');
    expect(await firstOf(none).resolve('slack', 'T1', 'U1')).toBeUndefined();
  });
});
