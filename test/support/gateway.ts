import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';

export const testPolicy = `
version: 1
approval:
  approvers: { groups: [sre], count: 1 }
  ttl: 10m
  validity: 5m
rules:
  - name: reads
    match: { type: "*.read" }
    decision: allow
  - name: iam
    match: { type: "aws.iam.*" }
    decision: require_approval
    approvers: { groups: [sre, security-leads], count: 2 }
  - name: deploys
    match: { type: "deploy.*", resource: "prod/**" }
    decision: require_approval
  - name: no-drop
    match: { type: "db.drop" }
    decision: deny
    message: never
`;

export const testReviewers = `
reviewers:
  - { id: alice@example.com, email: alice@example.com, name: Alice, groups: [sre] }
  - { id: bob@example.com, email: bob@example.com, name: Bob, groups: [sre, security-leads] }
  - { id: dana@example.com, email: dana@example.com, name: Dana, groups: [sre] }
  - { id: mallory@example.com, email: mallory@example.com, name: Mallory, groups: [marketing] }
`;

export interface TestGateway {
  gw: Gateway;
  url: string;
  dir: string;
  configFile: string;
  /** Agent key owned by dana@example.com. */
  agent: string;
  reviewers: Record<'alice' | 'bob' | 'dana' | 'mallory', string>;
  call(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** Writes a configuration into a fresh temp dir. */
export function writeConfig(policy = testPolicy, extra = ''): { dir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cs-gw-'));
  writeFileSync(join(dir, 'policy.yaml'), policy);
  const configFile = join(dir, 'countersign.yaml');
  writeFileSync(
    configFile,
    `server: { host: 127.0.0.1, port: 0, logLevel: silent }\ndataDir: ./data\npolicy: { files: [./policy.yaml] }\n${testReviewers}\n${extra}`,
  );
  return { dir, configFile };
}

/** A real gateway on a real SQLite file and a real loopback port. */
export async function startGateway(
  opts: { policy?: string; clock?: Clock; configFile?: string; extra?: string } = {},
): Promise<TestGateway> {
  const { dir, configFile } = opts.configFile
    ? { dir: join(opts.configFile, '..'), configFile: opts.configFile }
    : writeConfig(opts.policy, opts.extra);
  const config = loadConfig(configFile, {});
  const gw = await createGateway(config, opts.clock);
  const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const agent = (await gw.admin.createActor({ name: 'deploy-bot', owner: 'dana@example.com' })).token;
  const tokenFor = async (id: string) => (await gw.admin.issueReviewerToken(gw.directory, id)).token;
  const reviewers = {
    alice: await tokenFor('alice@example.com'),
    bob: await tokenFor('bob@example.com'),
    dana: await tokenFor('dana@example.com'),
    mallory: await tokenFor('mallory@example.com'),
  };
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics)
    }
    return { status: res.status, body: parsed as any, headers: res.headers };
  };
  return { gw, url, dir, configFile, agent, reviewers, call, close: () => gw.close() };
}

export const iamAction = {
  type: 'aws.iam.attach_role_policy',
  resource: 'prod/iam/role/deployer',
  params: { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
  justification: 'migration needs it',
};
