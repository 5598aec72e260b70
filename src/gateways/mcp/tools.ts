import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Actor } from '../../core/identity.js';
import type { PolicyDecision } from '../../core/request.js';
import { awaitToolName } from './messages.js';

/** The tool the gateway adds to every upstream's list. */
export const awaitTool: Tool = {
  name: awaitToolName,
  title: 'Wait for a Countersign decision',
  description:
    'Countersign approval gateway: when a tool result says a call is waiting for human approval and gives a ' +
    'request id, call this with that id. It waits for the reviewer and returns the real tool result once ' +
    'approved, or tells you it was refused. It never re-runs an action that already ran.',
  inputSchema: {
    type: 'object',
    properties: {
      request_id: { type: 'string', description: 'The request id from the waiting message, e.g. req_…' },
    },
    required: ['request_id'],
  },
};

export const approvalNote =
  '[Countersign: calls to this tool need a human reviewer’s approval and may wait; the result tells you what to do.]';

/**
 * What the policy says about calling `tool` with no arguments, or null when it cannot say.
 * Called as `preview(actor, 'NAME/TOOL')`.
 */
export type PolicyPreview = (actor: Actor, resource: string) => PolicyDecision | null;

/**
 * Shapes an upstream's tool list for one actor. The policy is evaluated for each tool as
 * `mcp.tools.call` on `UPSTREAM/TOOL` with params `{}`: a tool whose evaluation is `deny` is hidden
 * when `hideDenied` is set, and one whose evaluation is `require_approval` gets a note. A rule
 * that looks at argument values may still deny or hold particular calls of a listed tool; hiding
 * is a convenience for the model, never the enforcement, which happens on every call.
 */
export function shapeTools(
  tools: Tool[],
  o: { upstream: string; actor: Actor; preview: PolicyPreview; hideDenied: boolean },
): Tool[] {
  const out: Tool[] = [];
  for (const tool of tools) {
    // The gateway's own tool wins; an upstream tool of the same name would be unreachable anyway.
    if (tool.name === awaitToolName) continue;
    const decision = o.preview(o.actor, `${o.upstream}/${tool.name}`);
    if (decision === 'deny' && o.hideDenied) continue;
    if (decision === 'require_approval') {
      out.push({
        ...tool,
        description: tool.description ? `${tool.description}\n\n${approvalNote}` : approvalNote,
      });
    } else out.push(tool);
  }
  return out;
}
