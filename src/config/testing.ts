/** Test support for the configuration's audit record (src/config/record.ts). */

/** A `whsec_` secret whose base64 text itself carries the marker, so a leak is visible as text. */
export const whsec = (tag: string) => `whsec_S3CRET${tag}`.padEnd(6 + 32, '0');

/**
 * Every secret-bearing field filled with a distinctive value containing S3CRET. Exported for the
 * end-to-end test (test/config-audit.test.ts), which starts a gateway on it. `apiUrl`: the Slack
 * Web API base (a fake one in that test).
 */
export function secretEverywhere(apiUrl = 'https://slackuser:S3CRET-slack-api@slack.example.com/api/') {
  return {
    server: { publicUrl: 'https://admin:S3CRET-public@countersign.example.com' },
    store: { durability: 'os' },
    slack: {
      botToken: 'xoxb-S3CRET-bot',
      signingSecret: 'S3CRET-signing-secret-0123',
      appToken: 'xapp-S3CRET-app',
      teamIds: ['T0TEAM'],
      appIds: ['A0APP'],
      apiUrl,
    },
    webhooks: {
      endpoints: [
        {
          id: 'siem',
          url: 'https://hookuser:S3CRET-hook-pw@hooks.example.com/S3CRET-hook-path?token=S3CRET-hook-query',
          secrets: [whsec('endpointA'), whsec('endpointB')],
        },
      ],
      callbacks: { secrets: [whsec('callback')] },
    },
    identity: {
      jwt: {
        issuers: [
          {
            name: 'ci',
            issuer: 'https://ci.example.com',
            jwksUrl: 'https://u:S3CRET-jwks-pw@keys.example.com/jwks.json?key=S3CRET-jwks-query',
            audience: 'countersign',
          },
          {
            name: 'k8s',
            issuer: 'https://k8s.example.com',
            // A private JWK pasted by mistake: its private members must not reach the log.
            jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'public-x', d: 'S3CRET-jwk-d' }] },
            audience: ['countersign'],
          },
        ],
      },
      oidc: { issuer: 'https://idp.example.com', clientId: 'countersign', clientSecret: 'S3CRET-oidc' },
    },
    audit: { witnesses: ['https://w:S3CRET-witness@witness.example.com/'] },
    mcp: {
      upstreams: {
        tool: {
          command: '/usr/bin/true',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax under test
          env: { API_TOKEN: 'S3CRET-env-literal', FROM_ENV: '${MY_TOKEN}' },
        },
        remote: {
          url: 'https://mcp.example.com/S3CRET-mcp-path/sse',
          headers: { Authorization: 'Bearer S3CRET-mcp-header' },
        },
      },
    },
  };
}

export const secretEnv = {
  MY_TOKEN: 'S3CRET-from-env',
  COUNTERSIGN__SLACK__SIGNING_SECRET: 'S3CRET-env-override-0123',
};
