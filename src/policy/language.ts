import { type Static, Type } from '@sinclair/typebox';

/**
 * The policy file language. Every field has a description: docs/policy.md and the JSON Schema for
 * editors (schemas/policy.schema.json) are generated from this file.
 */

const durationHelp = 'A duration such as `90s`, `15m`, `1h30m`, `2d`.';
const duration = (what: string) =>
  Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: `${what} ${durationHelp}` });
const Glob = Type.String({ minLength: 1 });
const globsHelp = 'A glob (`aws.iam.*`, `prod/**`, `!/tmp/**`) or a list of globs, any of which matches.';
/** TypeBox collapses one-member unions and drops their options, so each use builds its own union. */
const globs = (what?: string) =>
  Type.Union([Glob, Type.Array(Glob, { minItems: 1 })], { description: what ?? globsHelp });
const Globs = globs();
const Decision = Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('require_approval')], {
  description: '`allow`, `deny` or `require_approval`.',
});
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const ParamTest = Type.Object(
  {
    equals: Type.Optional(Type.Unknown({ description: 'Deep equality with this JSON value.' })),
    in: Type.Optional(Type.Array(Type.Unknown(), { description: 'Equal to one of these values.' })),
    glob: Type.Optional(Globs),
    regex: Type.Optional(
      Type.String({
        description: 'A JavaScript regular expression the string value must match (unanchored; add `^…$`).',
      }),
    ),
    gt: Type.Optional(Type.Number()),
    gte: Type.Optional(Type.Number()),
    lt: Type.Optional(Type.Number()),
    lte: Type.Optional(Type.Number()),
    exists: Type.Optional(Type.Boolean({ description: 'Whether the path is present at all.' })),
  },
  {
    additionalProperties: false,
    description: 'Tests on one value; all given tests must hold. A bare scalar means `equals`.',
  },
);

const Params = Type.Record(Type.String(), Type.Union([Scalar, ParamTest]), {
  description: 'Keys are dotted paths into `params` (`spec.replicas`, `tags.0`); values are tests.',
});

const Actor = Type.Object(
  {
    id: Type.Optional(Globs),
    name: Type.Optional(Globs),
    via: Type.Optional(Globs),
    labels: Type.Optional(
      Type.Record(Type.String(), Globs, { description: 'Label name → globs its value must match.' }),
    ),
  },
  { additionalProperties: false, description: 'Matches the machine identity that asks.' },
);

const Principal = Type.Object(
  {
    id: Type.Optional(globs('Globs on the principal (usually an email), case-insensitive.')),
    groups: Type.Optional(globs('The principal belongs to a group matching any of these globs.')),
    present: Type.Optional(Type.Boolean({ description: 'Whether the actor names a principal at all.' })),
  },
  { additionalProperties: false, description: 'Matches the human on whose behalf the actor works.' },
);

const Day = Type.Union(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => Type.Literal(d)));
const Time = Type.Object(
  {
    days: Type.Optional(Type.Array(Day, { minItems: 1, description: 'Days of the week, in `tz`.' })),
    hours: Type.Optional(
      Type.String({
        pattern: '^\\d\\d:\\d\\d-\\d\\d:\\d\\d$',
        description: '`HH:MM-HH:MM` in `tz`, end exclusive; may wrap midnight (`22:00-06:00`).',
      }),
    ),
    tz: Type.Optional(Type.String({ description: 'IANA time zone such as `Europe/Berlin`; default `UTC`.' })),
  },
  { additionalProperties: false, description: 'Matches when the request arrives inside this window.' },
);

const Shell = Type.Object(
  {
    command: Type.Optional(Globs),
    program: Type.Optional(Globs),
    args: Type.Optional(
      Type.Array(Glob, {
        minItems: 1,
        description: 'Globs that must match non-option arguments in this order (others may sit between).',
      }),
    ),
    flags: Type.Optional(
      globs(
        'Any of these flags is present: `r` matches `-r`, `-rf`, `--r`; `recursive` matches `--recursive`.',
      ),
    ),
    options: Type.Optional(
      Type.Record(Type.String(), Globs, {
        description: 'Option name → globs on its value (`--namespace prod`, `--namespace=prod`, `-n prod`).',
      }),
    ),
    any_arg: Type.Optional(
      globs('Some argument (after path normalisation) matches; `!/tmp/**` means "outside /tmp".'),
    ),
    unparseable: Type.Optional(
      Type.Boolean({
        description:
          'Matches commands the shell parser could not understand, or whose program is only known at run time.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Matches any program the command runs, seen through sudo, env, `bash -c`, pipes, `&&`, subshells and substitutions. `command: "kubectl delete"` is short for `program: kubectl, args: [delete]`.',
  },
);

const Sql = Type.Object(
  {
    kind: Type.Optional(
      globs(
        'Statement kinds: select, insert, update, delete, merge, truncate, drop, create_table, alter_table, grant, revoke, copy_to, copy_from, do…',
      ),
    ),
    family: Type.Optional(
      globs('Families: read, write, ddl, dcl, copy, export, transaction, session, other.'),
    ),
    tables: Type.Optional(
      globs('Some relation touched matches (lower case; `users` and `public.users` both appear).'),
    ),
    functions: Type.Optional(globs('Some function called matches (`pg_read_file`, `dblink*`).')),
    unbounded_write: Type.Optional(
      Type.Boolean({
        description: 'UPDATE or DELETE without a WHERE clause, or with one that is always true.',
      }),
    ),
    multi_statement: Type.Optional(Type.Boolean({ description: 'More than one statement in the text.' })),
    unparseable: Type.Optional(
      Type.Boolean({
        description:
          "Text PostgreSQL's parser rejects, or that runs code the parser cannot see (DO, EXECUTE).",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: "Matches SQL text in `params.sql` / `params.query`, parsed by PostgreSQL's own parser.",
  },
);

const Http = Type.Object(
  {
    method: Type.Optional(Globs),
    host: Type.Optional(Globs),
    path: Type.Optional(
      globs('Globs or templates (`/repos/{owner}/{repo}`) on the decoded, normalised path.'),
    ),
    query: Type.Optional(
      Type.Record(Type.String(), Globs, { description: 'Query parameter → globs on any of its values.' }),
    ),
    unparseable: Type.Optional(Type.Boolean()),
  },
  {
    additionalProperties: false,
    description: 'Matches an HTTP request given as `params.method` and `params.url`.',
  },
);

export const Match = Type.Recursive(
  (Self) =>
    Type.Object(
      {
        type: Type.Optional(globs('Globs on the action type (`aws.iam.*`).')),
        resource: Type.Optional(globs('Globs on the resource (`prod/**`).')),
        actor: Type.Optional(Actor),
        principal: Type.Optional(Principal),
        params: Type.Optional(Params),
        time: Type.Optional(Time),
        shell: Type.Optional(Shell),
        sql: Type.Optional(Sql),
        http: Type.Optional(Http),
        use: Type.Optional(
          Type.Union([Type.String(), Type.Array(Type.String())], {
            description: 'Names of reusable matchers (top-level `matchers`), all of which must match.',
          }),
        ),
        all: Type.Optional(Type.Array(Self, { description: 'Every one of these matches.' })),
        any: Type.Optional(Type.Array(Self, { description: 'At least one of these matches.' })),
        not: Type.Optional(Self),
      },
      {
        additionalProperties: false,
        description: 'Every field given must match; an empty match matches every action.',
      },
    ),
  { $id: 'Match' },
);

const Clause = Type.Object(
  {
    groups: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Approver groups (named in `groups:` or IdP groups); a reviewer in any of them counts.',
    }),
    count: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 50,
        description: 'Distinct reviewers who must approve; default 1.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const Approvers = Type.Union(
  [Clause, Type.Array(Clause, { minItems: 1 }), Type.String({ pattern: '^\\s*\\d+\\s+of\\s+\\S.*$' })],
  {
    description:
      'Who must approve: `{groups: [sre], count: 2}`, a list of such clauses (any one suffices), or text: `2 of sre or 1 of security-leads`.',
  },
);

const ApprovalFields = {
  approvers: Type.Optional(Approvers),
  ttl: Type.Optional(duration('How long a request may stay pending before it expires.')),
  validity: Type.Optional(duration('How long an approved action may still be executed.')),
  deny_threshold: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 50,
      description: 'Deny votes from eligible reviewers that reject the request; default 1.',
    }),
  ),
  channels: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      description: 'Channels to notify (`slack`, `teams`, `webhook`, `console`); default: all configured.',
    }),
  ),
  step_up: Type.Optional(duration('Reviewers must have signed in within this long before voting.')),
};

const ExampleAction = Type.Object(
  {
    type: Type.String(),
    resource: Type.Optional(Type.String()),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    actor: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    at: Type.Optional(Type.String({ description: 'ISO 8601 time of the request, for time windows.' })),
  },
  { additionalProperties: false },
);

/** Match appears in rules and in `matchers`; both refer to one definition so the schema stays self-contained. */
const MatchRef = Type.Unsafe<Static<typeof Match>>(Type.Ref('Match'));

export const Rule = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$',
      description: 'Unique name, recorded on every request it decides.',
    }),
    description: Type.Optional(Type.String()),
    match: Type.Optional(MatchRef),
    decision: Decision,
    message: Type.Optional(
      Type.String({ description: 'Shown to the agent on deny (it is told not to retry).' }),
    ),
    ...ApprovalFields,
    examples: Type.Optional(
      Type.Object(
        {
          match: Type.Optional(Type.Array(ExampleAction)),
          not_match: Type.Optional(Type.Array(ExampleAction)),
        },
        {
          additionalProperties: false,
          description: 'Actions this rule must and must not match; checked when the policy loads.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const PolicyFile = Type.Object(
  {
    version: Type.Optional(Type.Literal(1, { description: 'Language version; 1.' })),
    default: Type.Optional(
      Type.Object(
        { decision: Decision, message: Type.Optional(Type.String()) },
        {
          additionalProperties: false,
          description:
            'Decision when no rule matches; `require_approval` unless set. `allow` must be written explicitly.',
        },
      ),
    ),
    approval: Type.Optional(
      Type.Object(ApprovalFields, {
        additionalProperties: false,
        description: 'Defaults for every `require_approval` rule.',
      }),
    ),
    groups: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' }),
        Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
        {
          description: 'Named approver groups: name → IdP groups whose members count as that group.',
        },
      ),
    ),
    matchers: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' }), MatchRef, {
        description: 'Reusable matchers, referred to by `use:`.',
      }),
    ),
    rules: Type.Optional(Type.Array(Rule)),
  },
  {
    additionalProperties: false,
    $id: 'https://countersign.dev/schemas/policy.schema.json',
    title: 'Countersign policy file',
    $defs: { Match },
  },
);

export type PolicyFileT = Static<typeof PolicyFile>;
export type RuleT = Static<typeof Rule>;
export type MatchT = Static<typeof Match>;
export type ApproversT = Static<typeof Approvers>;
export type ExampleActionT = Static<typeof ExampleAction>;
export type ParamTestT = Static<typeof ParamTest>;
