import { describe, expect, it } from 'vitest';
import { startGateway } from './support/gateway.js';

const policy = `
version: 1
approval: { approvers: { groups: [sre], count: 1 } }
rules:
  - name: contractors-never-touch-prod
    match: { type: "deploy.*", resource: "prod/**", principal: { groups: [contractors] } }
    decision: deny
    message: contractors' agents do not deploy to production
  - name: sre-agents-deploy
    match: { type: "deploy.*", principal: { groups: [sre] } }
    decision: allow
`;

describe('principal.groups rules see the groups of the human behind the agent', () => {
  it('uses reviewer-directory groups and static identity.groups membership', async () => {
    const t = await startGateway({
      policy,
      extra: 'identity:\n  groups:\n    contractors: [carl@example.com]\n',
    });
    try {
      // dana@example.com is an sre reviewer in the test configuration.
      const sre = (await t.gw.admin.createActor({ name: 'sre-bot', owner: 'DANA@example.com' })).token;
      const contractor = (await t.gw.admin.createActor({ name: 'carl-bot', owner: 'carl@example.com' }))
        .token;
      const nobody = (await t.gw.admin.createActor({ name: 'x-bot', owner: 'x@example.com' })).token;
      const deploy = { type: 'deploy.api', resource: 'prod/api', justification: 'release' };
      expect((await t.call('POST', '/v1/actions', sre, deploy)).body).toMatchObject({
        status: 'allowed',
        rule: 'sre-agents-deploy',
      });
      expect((await t.call('POST', '/v1/actions', contractor, deploy)).body).toMatchObject({
        status: 'denied',
        rule: 'contractors-never-touch-prod',
      });
      expect((await t.call('POST', '/v1/actions', nobody, deploy)).body).toMatchObject({
        status: 'pending',
        rule: null,
      });
    } finally {
      await t.close();
    }
  });
});
