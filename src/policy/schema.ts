import { type Static, Type } from '@sinclair/typebox';

const Duration = Type.String({
  pattern: '^(\\d+(ms|s|m|h|d))+$',
  description: 'A duration such as 90s, 15m, 1h30m, 2d.',
});
const Globs = Type.Union(
  [Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })],
  {
    description: 'A glob (`aws.iam.*`, `prod/**`) or a list of globs, any of which matches.',
  },
);

export const Approvers = Type.Object(
  {
    groups: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Approver groups; a reviewer in any of them is eligible.',
    }),
    count: Type.Integer({
      minimum: 1,
      maximum: 50,
      default: 1,
      description: 'Distinct reviewers who must approve.',
    }),
  },
  { additionalProperties: false },
);

export const Approval = Type.Object(
  {
    approvers: Type.Optional(Approvers),
    ttl: Type.Optional(Duration),
    validity: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

export const Rule = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$',
      description: 'Unique name, recorded on every request it decides.',
    }),
    description: Type.Optional(Type.String()),
    match: Type.Object(
      { type: Type.Optional(Globs), resource: Type.Optional(Globs) },
      {
        additionalProperties: false,
        description: 'All given fields must match; an empty match matches every action.',
      },
    ),
    decision: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('require_approval')]),
    message: Type.Optional(Type.String({ description: 'Shown to the agent on deny.' })),
    approvers: Type.Optional(Approvers),
    ttl: Type.Optional(Duration),
    validity: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

export const PolicyFile = Type.Object(
  {
    version: Type.Literal(1),
    default: Type.Optional(
      Type.Object(
        {
          decision: Type.Union([
            Type.Literal('allow'),
            Type.Literal('deny'),
            Type.Literal('require_approval'),
          ]),
        },
        { additionalProperties: false },
      ),
    ),
    approval: Type.Optional(Approval),
    rules: Type.Array(Rule),
  },
  { additionalProperties: false },
);

export type PolicyFileT = Static<typeof PolicyFile>;
export type RuleT = Static<typeof Rule>;
