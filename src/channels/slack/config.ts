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
  /**
   * Where a reviewer reads the full request (the API view, which a browser signed in through
   * /auth/login opens with its session cookie); null when server.publicUrl is not set.
   */
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
    requestUrl: base ? (id) => `${base}/v1/actions/${encodeURIComponent(id)}` : null,
  };
}

const slackId = /^[CGDU][A-Z0-9]{2,}$/;

/**
 * The Slack conversations a request goes to, or null when its rule does not ask for Slack.
 * A rule's `channels` name channel kinds (`[slack, console]`; absent means every configured one):
 * `slack` means the configured defaults, and `slack:<id or alias>` (our extension) names
 * conversations. Entries that resolve to no Slack id are dropped; an empty result is a
 * configuration error the caller reports.
 */
export function targetsFor(
  ruleChannels: readonly string[] | undefined,
  config: SlackConfig,
): string[] | null {
  const named = (ruleChannels ?? [])
    .filter((c) => c.startsWith('slack:'))
    .map((c) => c.slice('slack:'.length));
  let wanted: readonly string[];
  if (ruleChannels === undefined || (named.length === 0 && ruleChannels.includes('slack'))) {
    wanted = config.defaultChannels;
  } else if (named.length > 0) {
    wanted = named;
  } else {
    return null;
  }
  const out = wanted
    .map((c) => config.channelAliases[c.replace(/^#/, '')] ?? c)
    .filter((c) => slackId.test(c));
  return [...new Set(out)];
}
