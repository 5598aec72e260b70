import { type Static, Type } from '@sinclair/typebox';
import { webhookEvents } from '../channels/webhook/payload.js';
import { IdentitySection } from './identity.js';
import { McpConfigFile } from './mcp.js';

const Duration = Type.String({
  pattern: '^(\\d+(ms|s|m|h|d))+$',
  description: 'A duration such as 500ms, 1s, 15m.',
});

export const ReviewerEntry = Type.Object(
  {
    id: Type.String({ minLength: 1, description: 'Stable identity key (the IdP subject or the email).' }),
    email: Type.String({ format: 'email' }),
    name: Type.Optional(Type.String()),
    groups: Type.Array(Type.String({ minLength: 1 }), {
      description: 'Approver groups this reviewer belongs to.',
    }),
  },
  { additionalProperties: false },
);

const WebhookSecret = Type.String({
  pattern: '^(whsec_[A-Za-z0-9+/=]{16,}|env:[A-Z_][A-Z0-9_]*)$',
  description:
    'A Standard Webhooks secret (`whsec_` + base64 of 24 to 64 random bytes), or `env:NAME` to read it from the environment.',
});

const WebhookEventName = Type.Union(webhookEvents.map((e) => Type.Literal(e)));

/** `webhooks:` — signed outgoing events (docs/webhooks.md). */
export const WebhooksSection = Type.Object(
  {
    endpoints: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({
              pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
              description: 'Stable name of the endpoint.',
            }),
            url: Type.String({ format: 'uri' }),
            secrets: Type.Array(WebhookSecret, {
              minItems: 1,
              maxItems: 2,
              description:
                'Signing secrets; the first is current, a second one is the one being rotated out.',
            }),
            events: Type.Optional(Type.Array(WebhookEventName, { minItems: 1 })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    callbacks: Type.Optional(
      Type.Object(
        {
          secrets: Type.Array(WebhookSecret, { minItems: 1, maxItems: 2 }),
        },
        { additionalProperties: false, description: 'Signing for the per-request callbackUrl.' },
      ),
    ),
    allowPrivateNetworks: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'CIDRs (e.g. 10.1.2.0/24) that deliveries may reach although they are private or loopback.',
      }),
    ),
    allowHttp: Type.Optional(Type.Boolean({ description: 'Allow plain http:// URLs (tests only).' })),
    timeout: Type.Optional(Duration),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    retryBase: Type.Optional(Duration),
    retryMax: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

const SlackId = Type.String({ pattern: '^[A-Z0-9]{2,32}$' });

/** `slack:` — review in Slack (docs/slack.md). */
export const SlackSection = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('socket')], { default: 'http' })),
    botToken: Type.String({
      pattern: '^xoxb-',
      description: 'Bot token; prefer COUNTERSIGN__SLACK__BOT_TOKEN.',
    }),
    signingSecret: Type.Optional(
      Type.String({
        minLength: 16,
        description: 'Signing secret (HTTP mode); prefer COUNTERSIGN__SLACK__SIGNING_SECRET.',
      }),
    ),
    appToken: Type.Optional(
      Type.String({
        pattern: '^xapp-',
        description: 'App-level token (Socket Mode); prefer COUNTERSIGN__SLACK__APP_TOKEN.',
      }),
    ),
    teamIds: Type.Array(SlackId, { minItems: 1, description: 'Workspaces whose clicks are accepted.' }),
    appIds: Type.Array(SlackId, { minItems: 1, description: 'Slack apps whose clicks are accepted.' }),
    defaultChannels: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    channelAliases: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1 }))),
    users: Type.Optional(
      Type.Array(
        Type.Object(
          { team: SlackId, user: SlackId, reviewer: Type.String({ minLength: 1 }) },
          { additionalProperties: false },
        ),
        {
          description: 'Static links of Slack users to reviewer ids (when the identity links are not used).',
        },
      ),
    ),
    apiUrl: Type.Optional(Type.String({ format: 'uri', description: 'Slack Web API base (tests only).' })),
    retryAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    retryBase: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

export const ConfigFile = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ default: '127.0.0.1', description: 'Address to listen on.' })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 8080 })),
          bodyLimit: Type.Optional(
            Type.Integer({
              minimum: 1024,
              maximum: 16_777_216,
              default: 262_144,
              description: 'Largest accepted request body in bytes.',
            }),
          ),
          maxWait: Type.Optional(
            Type.String({
              ...Duration,
              default: '60s',
              description: 'Longest long-poll wait an agent may ask for.',
            }),
          ),
          publicUrl: Type.Optional(
            Type.String({ format: 'uri', description: 'URL reviewers and agents reach the gateway at.' }),
          ),
          logLevel: Type.Optional(
            Type.Union(
              ['fatal', 'error', 'warn', 'info', 'debug', 'silent'].map((l) => Type.Literal(l)),
              { default: 'info' },
            ),
          ),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    dataDir: Type.Optional(
      Type.String({ description: 'Directory for the SQLite file and keys; relative to this file.' }),
    ),
    store: Type.Optional(
      Type.Object(
        {
          driver: Type.Literal('sqlite', { default: 'sqlite' }),
          path: Type.Optional(
            Type.String({ description: 'SQLite file; defaults to <dataDir>/countersign.db.' }),
          ),
          durability: Type.Optional(
            Type.Union([Type.Literal('fsync'), Type.Literal('os')], {
              description:
                'fsync (default): a decision is acknowledged only once it is on stable storage. os: once the operating system has it; survives a crash of the process, not of the machine.',
            }),
          ),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    policy: Type.Optional(
      Type.Object(
        {
          files: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            description: 'Policy files, relative to this file.',
          }),
          watch: Type.Optional(
            Type.Boolean({
              description: 'Reload the policy when a file changes (default true); SIGHUP always reloads.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    audit: Type.Optional(
      Type.Object(
        {
          signingKeyFile: Type.Optional(
            Type.String({ description: 'Ed25519 private key (PKCS#8 PEM); created by `countersign init`.' }),
          ),
          origin: Type.Optional(
            Type.String({
              pattern: '^[^\\s+]+$',
              description:
                'Checkpoint origin line and key name; default countersign.local/<key fingerprint>.',
            }),
          ),
          checkpointInterval: Type.Optional(
            Type.String({
              ...Duration,
              default: '1s',
              description: 'Sign a checkpoint this often while the log grows.',
            }),
          ),
          publishDir: Type.Optional(
            Type.String({
              description: 'Directory every new checkpoint is written to (for a web server or a sync job).',
            }),
          ),
          witnesses: Type.Optional(
            Type.Array(Type.String({ format: 'uri' }), {
              description:
                'C2SP tlog-witness submission prefixes; their cosignatures are kept with each checkpoint.',
            }),
          ),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    expiry: Type.Optional(
      Type.Object({ sweepInterval: Type.Optional(Duration) }, { additionalProperties: false }),
    ),
    reviewers: Type.Optional(Type.Array(ReviewerEntry)),
    slack: Type.Optional(SlackSection),
    webhooks: Type.Optional(WebhooksSection),
    identity: Type.Optional(IdentitySection),
    mcp: Type.Optional(McpConfigFile),
    dev: Type.Optional(
      Type.Boolean({
        description:
          'Development mode (the default when no --config is given): demo reviewers and a demo agent key, printed on start. Never in production.',
      }),
    ),
  },
  { additionalProperties: false },
);

export type ConfigFileT = Static<typeof ConfigFile>;
export type ReviewerEntryT = Static<typeof ReviewerEntry>;
export type SlackSectionT = Static<typeof SlackSection>;
export type WebhooksSectionT = Static<typeof WebhooksSection>;
