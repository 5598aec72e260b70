import { describe, expect, it } from 'vitest';
import { resolveSlack, targetsFor } from './config.js';

const base = { botToken: 'xoxb-1', signingSecret: 'x'.repeat(32), teamIds: ['T1'], appIds: ['A1'] };

describe('Slack configuration', () => {
  it('needs the signing secret in HTTP mode and the app token in Socket Mode, and says how to set them', () => {
    expect(() => resolveSlack({ ...base, signingSecret: undefined }, null)).toThrow(
      /COUNTERSIGN__SLACK__SIGNING_SECRET/,
    );
    expect(() => resolveSlack({ ...base, mode: 'socket' }, null)).toThrow(/COUNTERSIGN__SLACK__APP_TOKEN/);
  });

  it('posts where the rule says, through aliases, else to the defaults; not at all when the rule leaves Slack out', () => {
    const config = resolveSlack(
      { ...base, defaultChannels: ['C0DEFAULT'], channelAliases: { sre: 'C0SRE' } },
      'https://cs.example.com/',
    );
    expect(targetsFor(undefined, config)).toEqual(['C0DEFAULT']);
    expect(targetsFor(['slack', 'console'], config)).toEqual(['C0DEFAULT']);
    expect(targetsFor(['console'], config)).toBeNull();
    expect(targetsFor(['teams', 'webhook'], config)).toBeNull();
    expect(targetsFor(['slack:#sre', 'slack:U0ALICE', 'teams', 'slack'], config)).toEqual([
      'C0SRE',
      'U0ALICE',
    ]);
    expect(targetsFor(['slack:not a channel'], config)).toEqual([]);
    expect(targetsFor(['slack'], { ...config, defaultChannels: [] })).toEqual([]);
    expect(config.requestUrl?.('req_1')).toBe('https://cs.example.com/v1/actions/req_1');
  });
});
