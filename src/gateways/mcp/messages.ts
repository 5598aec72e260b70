import type { ActionRequest } from '../../core/request.js';

/**
 * What the model reads when Countersign stops or holds a call. Written for a language model:
 * plain, first the fact, then exactly what to do next, and an explicit "do not retry" where a
 * retry would only bother a human again.
 */

export const awaitToolName = 'countersign_await_decision';

const what = (r: ActionRequest) => {
  const target = r.action.resource.slice(r.action.resource.indexOf('/') + 1);
  if (r.action.type === 'mcp.tools.call') return `the call to tool '${target}'`;
  if (r.action.type === 'mcp.resources.read') return `the read of resource '${target}'`;
  return `the request for prompt '${target}'`;
};

/** Ends `text` with one full stop: policy messages often bring their own. */
export function sentence(text: string): string {
  const trimmed = text.trimEnd();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export function deniedText(r: ActionRequest): string {
  return (
    `Refused by Countersign (request ${r.id}): ${what(r)} was denied by policy. ` +
    `Reason: ${sentence(r.policy.reason)} Nothing was run. Do not retry this call or work around it; ` +
    'tell the user it was refused and why.'
  );
}

export function rejectedText(r: ActionRequest): string {
  return (
    `Refused by Countersign (request ${r.id}): a human reviewer rejected ${what(r)}. ` +
    'Nothing was run. Do not retry this call; tell the user it was rejected and ask how to proceed.'
  );
}

export function repeatText(r: ActionRequest, windowMs: number): string {
  return (
    `Refused by Countersign without a new review: an identical call (same tool and arguments) was ` +
    `rejected by a reviewer as request ${r.id}, and identical calls are refused for ` +
    `${Math.round(windowMs / 60_000)} minutes after a rejection. Nothing was run. Do not retry; ` +
    'tell the user it was rejected and ask how to proceed.'
  );
}

export function expiredText(r: ActionRequest): string {
  return (
    `Not run (request ${r.id}): nobody reviewed ${what(r)} before its review window closed, so it expired. ` +
    'Nothing was run. If the action is still needed, tell the user and ask them to arrange a reviewer ' +
    'before calling again.'
  );
}

export function cancelledText(r: ActionRequest): string {
  return `Not run (request ${r.id}): ${what(r)} was withdrawn before a decision. Nothing was run.`;
}

export function pendingText(r: ActionRequest): string {
  return (
    `Waiting for human approval (request ${r.id}): ${what(r)} needs a reviewer's approval and has not ` +
    `run yet. A human is reviewing it now. To continue, call the tool '${awaitToolName}' with ` +
    `{"request_id": "${r.id}"}; it waits for the decision and returns the real result once approved, ` +
    'or the refusal. Do not repeat the original call.'
  );
}

export function alreadyRanText(r: ActionRequest): string {
  return (
    `Request ${r.id} already ran (${r.status}); its result was returned to the call that ran it. ` +
    'An approved action runs at most once. Do not call again for this id.'
  );
}

export function notRunnableText(r: ActionRequest): string {
  return (
    `Not run (request ${r.id}): its approval is no longer valid (status ${r.status}). ` +
    'Nothing was run. If the action is still needed, make the call again to ask for a new review.'
  );
}

export function unrecordedText(r: ActionRequest): string {
  return (
    `Countersign could not store its record of ${what(r)} (request ${r.id}), so its result is withheld. ` +
    'The call may already have taken effect: check before trying again, and tell the user that ' +
    'Countersign is failing to record calls.'
  );
}

export function refusedByGatewayText(why: string): string {
  return `Refused by Countersign: ${sentence(why)} Nothing was run. Do not retry this call.`;
}

export function progressText(r: ActionRequest): string {
  return `Waiting for a human to approve request ${r.id} (${r.action.resource})`;
}
