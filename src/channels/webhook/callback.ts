import type { WebhooksConfig } from './config.js';
import { checkDestination, DestinationError, ipLiteral } from './http.js';
import { AddressPolicy } from './ssrf.js';

/**
 * Why a `callbackUrl` would never be called, or null when it may be. Checked when the action is
 * submitted: delivery refuses these URLs too, but only in the gateway's log, so an agent that was
 * answered 201 would wait for a callback that never comes. A host name is resolved and checked
 * at delivery (its address may change); only what is known now is refused here.
 */
export function callbackRefusal(config: WebhooksConfig): (url: string) => string | null {
  const addresses = new AddressPolicy(config.allowPrivateNetworks);
  return (url) => {
    if (config.callbackSecrets.length === 0)
      return 'this gateway sends no callbacks (its operator has not set webhooks.callbacks.secrets); leave callbackUrl out and long-poll GET /v1/actions/{id}/decision?wait=60';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'callbackUrl is not a valid URL';
    }
    try {
      checkDestination(parsed, config.allowHttp);
    } catch (error) {
      if (error instanceof DestinationError) return `callbackUrl: ${error.message}`;
      throw error;
    }
    const host = ipLiteral(parsed);
    if (host && !addresses.permits(host))
      return `callbackUrl: ${host} is a private or reserved address, which callbacks never reach (an operator can allow a network with webhooks.allowPrivateNetworks)`;
    return null;
  };
}
