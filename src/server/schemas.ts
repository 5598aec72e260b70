import { type Static, Type } from '@sinclair/typebox';
import { requestIdPattern, requestStatuses } from '../core/request.js';

/** The HTTP API's schemas: they validate requests, shape responses and generate /v1/openapi.json. */

const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const JsonObject = Type.Object({}, { additionalProperties: true, description: 'Any JSON object.' });

export const SubmitBody = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
      description: 'Dotted action type, e.g. `aws.iam.attach_role_policy`.',
    }),
    resource: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'What the action touches, e.g. `prod/db/orders`.',
    }),
    params: Type.Optional(JsonObject),
    justification: Type.String({
      minLength: 1,
      maxLength: 4000,
      description: 'Why the agent wants this; shown to reviewers.',
    }),
    callbackUrl: Type.Optional(
      Type.String({
        format: 'uri',
        maxLength: 2000,
        description:
          'Receives the signed webhook events of this request. Refused (400) when the gateway has no callback secrets, or the URL is not https, carries credentials, or is an IP address in a refused range.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SubmitBodyT = Static<typeof SubmitBody>;

export const ReviewBody = Type.Object(
  {
    vote: Type.Union([Type.Literal('approve'), Type.Literal('deny')]),
    comment: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

export const ResultBody = Type.Object(
  {
    outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    detail: Type.Optional(Type.String({ maxLength: 16_000 })),
    hash: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 of the canonical action that was executed.',
    }),
  },
  { additionalProperties: false },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
export const WaitQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 300, description: 'Seconds to wait for a decision.' }),
    ),
  },
  { additionalProperties: false },
);

const Before = Type.Optional(
  Type.String({
    pattern: requestIdPattern.source,
    description:
      'Only requests older than this request id (`req_…`): pass the `next` of the previous page to read the following one.',
  }),
);

export const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(requestStatuses.map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    before: Before,
  },
  { additionalProperties: false },
);

export const PendingQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 100 })),
    before: Before,
  },
  { additionalProperties: false },
);

const ReviewView = Type.Object({
  reviewer: Type.String(),
  email: Type.String(),
  name: Type.String(),
  vote: Type.String(),
  comment: Type.String(),
  groups: Type.Array(Type.String()),
  via: Type.String(),
  at: Type.String({ format: 'date-time' }),
});

export const ActionView = Type.Object({
  id: Type.String(),
  status: Type.Union(requestStatuses.map((s) => Type.Literal(s))),
  hash: Type.String({
    description: 'SHA-256 of RFC 8785 canonical {type, resource, params}; the approval is bound to it.',
  }),
  rule: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  policyVersion: Type.String(),
  action: Type.Object({
    type: Type.String(),
    resource: Type.String(),
    params: JsonObject,
    justification: Type.String(),
  }),
  requester: Type.Object({
    actor: Type.String(),
    name: Type.String(),
    principal: Type.Union([Type.String(), Type.Null()]),
    onBehalfOf: Type.Array(Type.String(), { description: 'Further humans in the delegation chain.' }),
    via: Type.String({ description: 'How the actor authenticated: api_key or jwt.' }),
  }),
  quorum: Type.Union([
    Type.Null(),
    Type.Object({
      anyOf: Type.Array(
        Type.Object({ groups: Type.Array(Type.String()), count: Type.Integer(), have: Type.Integer() }),
      ),
      denyThreshold: Type.Integer(),
    }),
  ]),
  reviews: Type.Array(ReviewView),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Timestamp,
  decidedAt: Timestamp,
  validUntil: Timestamp,
  result: Type.Union([
    Type.Null(),
    Type.Object({ outcome: Type.String(), detail: Type.String(), at: Type.String({ format: 'date-time' }) }),
  ]),
});
export type ActionViewT = Static<typeof ActionView>;

export const ActionList = Type.Object({
  items: Type.Array(ActionView, { description: 'Newest first.' }),
  next: Type.Union([Type.String(), Type.Null()], {
    description:
      'The id to pass as `before` for the next, older page, or null when no older request matches. GET /v1/reviews/pending reads at most 1,000 pending requests per page, so one of its pages may hold fewer than `limit` items, even none, while `next` is not null: follow `next` until it is null.',
  }),
});

export const EventView = Type.Object({
  index: Type.Integer(),
  kind: Type.String(),
  at: Type.String({ format: 'date-time' }),
  requestId: Type.Union([Type.String(), Type.Null()]),
  subject: Type.Object({ type: Type.String(), id: Type.String() }),
  details: JsonObject,
});
export const EventList = Type.Object({ items: Type.Array(EventView) });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.String(),
    fix: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { description: 'RFC 9457 problem details.', additionalProperties: true },
);
