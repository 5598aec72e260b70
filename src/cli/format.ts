import type { ActionRequestView, AuditEventView } from '../sdk/client.js';
import { table } from './output.js';

export function quorum(v: ActionRequestView): string {
  if (!v.quorum) return '-';
  return v.quorum.anyOf.map((c) => `${c.have}/${c.count} of ${c.groups.join('|')}`).join(' OR ');
}

export function requestLine(v: ActionRequestView): string[] {
  return [v.id, v.status, v.action.type, v.action.resource, v.rule ?? '(default)', quorum(v)];
}

export function requestTable(items: ActionRequestView[]): string {
  if (items.length === 0) return 'no requests';
  return table([['ID', 'STATUS', 'TYPE', 'RESOURCE', 'RULE', 'QUORUM'], ...items.map(requestLine)]);
}

/** The detailed view a reviewer reads before deciding. */
export function requestDetail(v: ActionRequestView, events: AuditEventView[] = []): string {
  const lines = [
    `request     ${v.id}`,
    `status      ${v.status}`,
    `action      ${v.action.type} on ${v.action.resource}`,
    `params      ${JSON.stringify(v.action.params)}`,
    `why         ${v.action.justification}`,
    `requester   ${v.requester.name} (${v.requester.actor}) on behalf of ${v.requester.principal ?? 'nobody'}`,
    `hash        ${v.hash}`,
    `policy      ${v.rule ?? '(default)'}: ${v.reason}`,
    `quorum      ${quorum(v)}`,
    `created     ${v.createdAt}`,
  ];
  if (v.expiresAt) lines.push(`expires     ${v.expiresAt}`);
  if (v.decidedAt) lines.push(`decided     ${v.decidedAt}`);
  if (v.validUntil) lines.push(`valid until ${v.validUntil}`);
  if (v.result) lines.push(`result      ${v.result.outcome} ${v.result.detail}`);
  if (v.reviews.length) {
    lines.push('', 'reviews');
    for (const r of v.reviews)
      lines.push(
        `  ${r.at}  ${r.vote.padEnd(7)}  ${r.email} [${r.groups.join(', ')}] via ${r.via}${r.comment ? `: ${r.comment}` : ''}`,
      );
  }
  if (events.length) {
    lines.push('', 'audit trail');
    const width = Math.max(...events.map((e) => String(e.index).length));
    for (const e of events)
      lines.push(
        `  #${String(e.index).padEnd(width)}  ${e.at}  ${e.kind.padEnd(18)}  ${e.subject.type}:${e.subject.id}`,
      );
  }
  return lines.join('\n');
}
