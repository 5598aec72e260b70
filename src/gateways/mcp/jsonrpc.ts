import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';

// Structural checks for the transports' hot paths. The SDK's own guards run a zod parse per
// message; these only look at the fields that tell the kinds apart.

/** A JSON object: not null, not an array. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A progress token as the SDK's schema takes it: a string or an integer. */
export const isProgressToken = (v: unknown): boolean => typeof v === 'string' || Number.isSafeInteger(v);

/** Anything that claims to be JSON-RPC 2.0: the least an upstream's message must be. */
export function isMessage(value: unknown): value is JSONRPCMessage {
  return typeof value === 'object' && value !== null && (value as { jsonrpc?: unknown }).jsonrpc === '2.0';
}

export function isRequest(
  message: JSONRPCMessage,
): message is JSONRPCMessage & { id: RequestId; method: string } {
  return 'id' in message && typeof (message as { method?: unknown }).method === 'string';
}

/** A result or an error answering request `id`. */
export function isResponse(message: JSONRPCMessage): message is JSONRPCMessage & { id: RequestId } {
  return 'id' in message && ('result' in message || 'error' in message);
}

const resultKeys = new Set(['content', 'isError']);

/**
 * A structural check that accepts a subset of what the SDK's CallToolResultSchema accepts, and
 * only values the schema's parse returns unchanged: text content and an `isError` flag, what most
 * tool calls return. Anything else goes to the schema; `jsonrpc.test.ts` holds this to it with
 * fast-check.
 */
export function isPlainToolResult(v: unknown): boolean {
  if (!isObject(v) || !Array.isArray(v.content)) return false;
  for (const key in v) if (!resultKeys.has(key)) return false;
  if (v.isError !== undefined && typeof v.isError !== 'boolean') return false;
  for (const item of v.content) {
    if (!isObject(item) || item.type !== 'text' || typeof item.text !== 'string') return false;
    for (const key in item) if (key !== 'type' && key !== 'text') return false;
  }
  return true;
}
