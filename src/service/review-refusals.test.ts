import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agent, reviewer } from '../../test/support/fixtures.js';
import { ManualClock } from '../core/clock.js';
import { isCountersignError } from '../core/errors.js';
import { compilePolicy } from '../policy/load.js';
import { SqliteStore } from '../store/sqlite/index.js';
import { InProcessNotifier } from './notifier.js';
import { Service } from './service.js';

const policy = compilePolicy([
  {
    file: 'policy.yaml',
    text: `version: 1
approval:
  approvers: { groups: [sre], count: 2 }
  ttl: 1h
  validity: 15m
default:
  decision: require_approval
`,
  },
]);

// The agent acts for dana, who is in sre herself: she may not approve her own request.
const people = {
  dana: reviewer('dana@example.com', ['sre']),
  alice: reviewer('alice', ['sre']),
  bob: reviewer('bob', ['sre']),
  eve: reviewer('eve', ['marketing']),
  // Alice again under another id (a second token, another channel): one person counts once.
  aliceAgain: reviewer('alice-slack', ['sre'], { email: 'alice@example.com' }),
};
const recorded = ['CS_ERR_SELF_APPROVAL', 'CS_ERR_NOT_ELIGIBLE', 'CS_ERR_ALREADY_VOTED'];

async function setup() {
  const store = new SqliteStore({ path: ':memory:' });
  const service = new Service({
    store,
    policy: () => policy,
    clock: new ManualClock(),
    notifier: new InProcessNotifier(),
  });
  const request = await service.submit(
    agent,
    { type: 'aws.iam.attach_role_policy', resource: 'prod/iam/x', params: {}, justification: 'test' },
    null,
  );
  const kinds = async () => (await store.eventsForRequest(request.id)).map((e) => e.kind);
  return { store, service, request, kinds };
}

describe('refused votes are on record', () => {
  it('attack: the requester approving her own request is refused and recorded as review.refused', async () => {
    const { store, service, request } = await setup();
    await expect(service.review(request.id, people.dana, 'approve', 'lgtm', 'api')).rejects.toMatchObject({
      code: 'CS_ERR_SELF_APPROVAL',
    });
    const events = await store.eventsForRequest(request.id);
    expect(events.map((e) => e.kind)).toEqual(['request.submitted', 'review.refused']);
    expect(events[1]).toMatchObject({
      subject: { type: 'reviewer', id: 'dana@example.com' },
      details: { code: 'CS_ERR_SELF_APPROVAL', vote: 'approve', via: 'api', hash: request.hash },
    });
    expect((await service.get(request.id)).request).toEqual(request);
    await store.close();
  });

  it('every vote refused for who the reviewer is leaves one review.refused and the request as it was', async () => {
    const voter = fc.constantFrom(...(Object.keys(people) as Array<keyof typeof people>));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(voter, fc.boolean()), { maxLength: 8 }), async (votes) => {
        const { store, service, request, kinds } = await setup();
        try {
          for (const [who, approve] of votes) {
            const before = await service.get(request.id);
            const logged = await kinds();
            const outcome = await service
              .review(request.id, people[who], approve ? 'approve' : 'deny', '', 'api')
              .then(
                () => null,
                (error: unknown) => error,
              );
            const added = (await kinds()).slice(logged.length);
            if (outcome === null) {
              expect(added[0]).toBe('review.cast');
              expect(added).not.toContain('review.refused');
              continue;
            }
            if (!isCountersignError(outcome)) throw outcome;
            expect((await service.get(request.id)).request.version).toBe(before.request.version);
            expect(added).toEqual(recorded.includes(outcome.code) ? ['review.refused'] : []);
            if (outcome.code === 'CS_ERR_NOT_PENDING') expect(before.request.status).not.toBe('pending');
          }
        } finally {
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
