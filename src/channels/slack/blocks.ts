import { shortHash } from '../../core/action.js';
import type { ActionRequest, Review } from '../../core/request.js';
import { progress } from '../../core/review.js';
import type { RequestSnapshot } from '../../store/store.js';
import { formatDuration } from '../../util/duration.js';
import { codeBlock, inlineCode, plainMrkdwn } from './escape.js';

export const approveAction = 'cs_approve';
export const denyAction = 'cs_deny';
export const denyModal = 'cs_deny_reason';

/** Slack's limits, with room to spare: a section's text (3000), fields (2000), blocks (50). */
const limits = { field: 200, justification: 1200, param: 300, paramKey: 60, params: 12, paramsText: 2400 };

export type Block = Record<string, unknown>;
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true });
const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });

/** A request id is ours (`req_` + base32), never actor text; checked anyway before it goes into markup. */
export const requestIdPattern = /^req_[0-9a-z]{20,40}$/;

function link(url: string | null, id: string, label: string): string {
  if (!url || !requestIdPattern.test(id)) return label;
  return `<${url}|${label}>`;
}

function paramsText(params: Record<string, unknown>, url: string | null, id: string): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return '_(no parameters)_';
  const lines: string[] = [];
  let cut = entries.length > limits.params;
  let size = 0;
  for (const [key, value] of entries.slice(0, limits.params)) {
    const k = inlineCode(key, limits.paramKey);
    const v = inlineCode(typeof value === 'string' ? value : JSON.stringify(value), limits.param);
    const line = `• ${k.mrkdwn}: ${v.mrkdwn}`;
    if (size + line.length > limits.paramsText) {
      cut = true;
      break;
    }
    cut ||= k.truncated || v.truncated;
    lines.push(line);
    size += line.length + 1;
  }
  if (cut) lines.push(`_Shortened — ${link(url, id, 'see the full request')}._`);
  return lines.join('\n');
}

/** "1 of 2 sre" for each way to satisfy the quorum. */
export function quorumText(request: ActionRequest, reviews: Review[]): string {
  if (!request.requirement) return 'no quorum';
  return progress(request.requirement, reviews)
    .map((c) => `${c.have} of ${c.count} ${c.groups.join('/')}`)
    .join(' or ');
}

function timeLeft(request: ActionRequest, now: number): string {
  if (request.status !== 'pending' || request.expiresAt === null) return '';
  const ms = Math.max(0, request.expiresAt - now);
  const rounded = ms >= 60_000 ? Math.floor(ms / 60_000) * 60_000 : Math.ceil(ms / 1000) * 1000;
  const at = Math.floor(request.expiresAt / 1000);
  return `expires <!date^${at}^{date_short_pretty} {time}|${new Date(request.expiresAt).toISOString()}> (in ${formatDuration(rounded)})`;
}

const statusLine: Record<string, string> = {
  pending: ':hourglass_flowing_sand: *Waiting for review*',
  approved: ':white_check_mark: *Approved*',
  rejected: ':no_entry: *Rejected*',
  expired: ':alarm_clock: *Expired* — nobody decided in time',
  cancelled: ':heavy_multiplication_x: *Cancelled* by the requester',
  executed: ':checkered_flag: *Approved and executed*',
  failed: ':warning: *Approved; the action failed when it ran*',
};

function votesText(reviews: Review[]): string {
  return reviews
    .map((r) => {
      const who = inlineCode(r.reviewerName || r.reviewerEmail, 80).mrkdwn;
      if (r.vote === 'approve') return `:white_check_mark: ${who} approved`;
      const why = r.comment ? `: ${inlineCode(r.comment, 300).mrkdwn}` : '';
      return `:x: ${who} denied${why}`;
    })
    .join('\n');
}

/** The review message: everything a reviewer needs, and the buttons while it is pending. */
export function requestMessage(
  snap: RequestSnapshot,
  now: number,
  url: string | null,
): { text: string; blocks: Block[] } {
  const { request: r, reviews } = snap;
  const field = (label: string, value: string | null) =>
    mrkdwn(`*${label}*\n${value === null ? '_(none)_' : inlineCode(value, limits.field).mrkdwn}`);
  const justification = codeBlock(r.action.justification, limits.justification);
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: 'Approval requested', emoji: true } },
    {
      type: 'section',
      fields: [
        field('Actor', `${r.requester.name} (${r.requester.id})`),
        field('On behalf of', r.requester.principal),
        field('Action', r.action.type),
        field('Resource', r.action.resource),
        field('Rule', r.policy.rule ?? '(default)'),
        field('Action hash', shortHash(r.hash)),
      ],
    },
    section(
      `*Justification*\n${justification.mrkdwn}${justification.truncated ? `\n_Shortened — ${link(url, r.id, 'see the full request')}._` : ''}`,
    ),
    section(`*Parameters*\n${paramsText(r.action.params, url, r.id)}`),
    {
      type: 'context',
      elements: [
        mrkdwn(
          [`Quorum: ${quorumText(r, reviews)}`, timeLeft(r, now), link(url, r.id, r.id)]
            .filter(Boolean)
            .join(' · '),
        ),
      ],
    },
    section(statusLine[r.status] ?? `*${r.status}*`),
  ];
  if (reviews.length > 0) blocks.push(section(votesText(reviews)));
  if (r.status === 'pending') {
    blocks.push({
      type: 'actions',
      block_id: 'cs_vote',
      elements: [
        {
          ...button('Approve', approveAction, r.id, 'primary'),
          // A second, deliberate click: an approval should never be a slip of the thumb.
          confirm: {
            title: { type: 'plain_text', text: 'Approve this action?' },
            text: {
              type: 'plain_text',
              text: `Approve action ${shortHash(r.hash)} exactly as shown in the message.`,
            },
            confirm: { type: 'plain_text', text: 'Approve' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
        button('Deny', denyAction, r.id, 'danger'),
      ],
    });
  }
  const text = `Approval requested: ${plainMrkdwn(r.action.type, 100)} on ${plainMrkdwn(r.action.resource, 100)} (${r.status})`;
  return { text, blocks };
}

function button(label: string, actionId: string, value: string, style: 'primary' | 'danger'): Block {
  return { type: 'button', text: { type: 'plain_text', text: label }, action_id: actionId, value, style };
}

/** The modal that asks a reviewer why they deny. */
export function denyView(request: ActionRequest, metadata: { id: string; channel: string | null }): Block {
  return {
    type: 'modal',
    callback_id: denyModal,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: 'Deny request' },
    submit: { type: 'plain_text', text: 'Deny' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(
        `Deny ${inlineCode(request.action.type, 80).mrkdwn} on ${inlineCode(request.action.resource, 120).mrkdwn}?`,
      ),
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason (shown to the requester and kept in the audit log)' },
        element: {
          type: 'plain_text_input',
          action_id: 'reason',
          multiline: true,
          min_length: 1,
          max_length: 500,
        },
      },
    ],
  };
}

/** The thread reply that tells the requester's human how it ended. */
export function outcomeText(snap: RequestSnapshot, mention: string | null): string {
  const who = mention ? `<@${mention}> ` : '';
  const line = statusLine[snap.request.status] ?? snap.request.status;
  const votes = snap.reviews.length > 0 ? `\n${votesText(snap.reviews)}` : '';
  return `${who}${line}: ${inlineCode(snap.request.action.type, 80).mrkdwn} on ${inlineCode(snap.request.action.resource, 120).mrkdwn}${votes}`;
}
