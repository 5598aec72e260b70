import type { SlackSectionT } from '../../config/schema.js';
import { parseDuration } from '../../util/duration.js';

/** `slack:` after validation, with defaults and durations in ms. */
export interface SlackConfig {
  mode: 'http' | 'socket';
  botToken: string;
  signingSecret: string | null;
  appToken: string | null;
  teamIds: string[];
  appIds: string[];
  defaultChannels: string[];
  channelAliases: Record<string, string>;
  users: Array<{ team: string; user: string; reviewer: string }>;
  apiUrl: string;
  retryAttempts: number;
  retryBaseMs: number;
  /** Where a reviewer reads the full request; null when server.publicUrl is not set. */
  requestUrl: ((id: string) => string) | null;
}

export function resolveSlack(s: SlackSectionT, publicUrl: string | null): SlackConfig {
  const mode = s.mode ?? 'http';
  if (mode === 'http' && !s.signingSecret) {
    throw new Error(
      'slack.signingSecret is required in HTTP mode: set COUNTERSIGN__SLACK__SIGNING_SECRET to the signing secret from the app settings (Basic Information)',
    );
  }
  if (mode === 'socket' && !s.appToken) {
    throw new Error(
      'slack.appToken is required in Socket Mode: set COUNTERSIGN__SLACK__APP_TOKEN to an app-level token (xapp-…) with connections:write',
    );
  }
  const base = publicUrl?.replace(/\/+$/, '') ?? null;
  return {
    mode,
    botToken: s.botToken,
    signingSecret: s.signingSecret ?? null,
    appToken: s.appToken ?? null,
    teamIds: s.teamIds,
    appIds: s.appIds,
    defaultChannels: s.defaultChannels ?? [],
    channelAliases: s.channelAliases ?? {},
    users: s.users ?? [],
    apiUrl: (s.apiUrl ?? 'https://slack.com/api').replace(/\/+$/, ''),
    retryAttempts: s.retryAttempts ?? 5,
    retryBaseMs: parseDuration(s.retryBase ?? '1s') as number,
    requestUrl: base ? (id) => `${base}/console/requests/${encodeURIComponent(id)}` : null,
  };
}

const slackId = /^[CGDU][A-Z0-9]{2,}$/;

/**
 * Slack conversations for a request: the rule's channels (`slack:<id or alias>` or a bare Slack
 * id or alias; entries for other channels such as `teams:` are not ours), else the defaults.
 */
export function targetsFor(ruleChannels: readonly string[] | undefined, config: SlackConfig): string[] {
  const mine = (ruleChannels ?? []).flatMap((c) => {
    const [prefix, rest] = c.includes(':')
      ? [c.slice(0, c.indexOf(':')), c.slice(c.indexOf(':') + 1)]
      : ['', c];
    return prefix === '' || prefix === 'slack' ? [rest] : [];
  });
  const wanted = mine.length > 0 ? mine : config.defaultChannels;
  const out = wanted
    .map((c) => config.channelAliases[c.replace(/^#/, '')] ?? config.channelAliases[c] ?? c)
    .filter((c) => slackId.test(c));
  return [...new Set(out)];
}
