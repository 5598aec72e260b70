import { slackSignature } from '../../src/channels/slack/verify.js';
import type { Gateway } from '../../src/server/gateway.js';

export const signingSecret = 'test-signing-secret-0123456789abcdef';
export const team = 'T0TEAM';
export const appId = 'A0APP';
export const users = { alice: 'UALICE', bob: 'UBOB', dana: 'UDANA', erin: 'UERIN', mallory: 'UMALLORY' };

export function slackSection(apiUrl: string, extra: Record<string, unknown> = {}) {
  return {
    botToken: 'xoxb-test-bot-token',
    signingSecret,
    teamIds: [team],
    appIds: [appId],
    defaultChannels: ['C0APPROVALS'],
    apiUrl,
    retryBase: '1ms',
    users: [
      { team, user: users.alice, reviewer: 'alice@example.com' },
      { team, user: users.bob, reviewer: 'bob@example.com' },
      { team, user: users.dana, reviewer: 'dana@example.com' },
      { team, user: users.erin, reviewer: 'erin@example.com' },
    ],
    ...extra,
  };
}

let seq = 0;

/** A block_actions payload as Slack sends it when a button is clicked. */
export function click(
  user: string,
  action: 'cs_approve' | 'cs_deny',
  requestId: string,
  over: Record<string, unknown> = {},
) {
  seq++;
  return {
    type: 'block_actions',
    team: { id: team, domain: 'acme' },
    user: { id: user, team_id: team, username: user.toLowerCase() },
    api_app_id: appId,
    trigger_id: `trigger.${seq}.${Math.random().toString(36).slice(2)}`,
    channel: { id: 'C0APPROVALS', name: 'approvals' },
    container: { type: 'message', channel_id: 'C0APPROVALS', message_ts: '1.0' },
    actions: [
      {
        type: 'button',
        action_id: action,
        block_id: 'cs_vote',
        value: requestId,
        action_ts: `${1_700_000_000 + seq}.${seq}`,
      },
    ],
    ...over,
  };
}

/** A view_submission payload for the deny modal. */
export function denySubmission(
  user: string,
  requestId: string,
  reason: string,
  over: Record<string, unknown> = {},
) {
  seq++;
  return {
    type: 'view_submission',
    team: { id: team, domain: 'acme' },
    user: { id: user, team_id: team },
    api_app_id: appId,
    trigger_id: `trigger.${seq}`,
    view: {
      id: `V${seq}`,
      hash: `${seq}.hash`,
      callback_id: 'cs_deny_reason',
      private_metadata: JSON.stringify({ id: requestId, channel: 'C0APPROVALS' }),
      state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } },
    },
    ...over,
  };
}

export function formBody(payload: unknown): string {
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export function signed(body: string, nowMs: number, secret = signingSecret, skewSeconds = 0) {
  const timestamp = String(Math.floor(nowMs / 1000) + skewSeconds);
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': slackSignature(secret, timestamp, body),
  };
}

/** Posts an interaction to the gateway's endpoint, signed as Slack would. */
export async function interact(gw: Gateway, payload: unknown, nowMs: number) {
  const body = formBody(payload);
  return gw.app.inject({
    method: 'POST',
    url: '/v1/slack/interactivity',
    headers: signed(body, nowMs),
    payload: body,
  });
}
