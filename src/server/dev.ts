import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reviewer } from '../core/identity.js';
import type { Admin } from '../service/admin.js';
import type { Authenticator, ReviewerDirectory } from '../service/auth.js';

/** Demo identities for development mode. Clearly fake; never created outside dev mode. */
export const devReviewers: Reviewer[] = [
  { id: 'alice@example.com', email: 'alice@example.com', name: 'Alice (demo)', groups: ['sre'] },
  { id: 'bob@example.com', email: 'bob@example.com', name: 'Bob (demo)', groups: ['sre', 'security-leads'] },
  { id: 'dana@example.com', email: 'dana@example.com', name: 'Dana (demo)', groups: ['sre'] },
];
export const devAgent = { name: 'demo-agent', owner: 'dana@example.com' };

export interface DevCredentials {
  agent: string;
  reviewers: Record<string, string>;
}

/**
 * Dev mode keeps its demo tokens in `<dataDir>/dev-credentials.json` (mode 0600) so the same
 * ones are printed on every start; tokens that no longer authenticate are replaced.
 */
export async function ensureDevCredentials(
  dataDir: string,
  admin: Admin,
  auth: Authenticator,
  directory: ReviewerDirectory,
): Promise<DevCredentials> {
  const file = join(dataDir, 'dev-credentials.json');
  const saved: Partial<DevCredentials> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as DevCredentials)
    : {};
  const works = async (token: string | undefined): Promise<boolean> =>
    token !== undefined &&
    (await auth.authenticate(token).then(
      () => true,
      () => false,
    ));
  const agent =
    saved.agent && (await works(saved.agent)) ? saved.agent : (await admin.createActor(devAgent)).token;
  const reviewers: Record<string, string> = {};
  for (const r of devReviewers) {
    const have = saved.reviewers?.[r.id];
    reviewers[r.id] =
      have && (await works(have)) ? have : (await admin.issueReviewerToken(directory, r.id)).token;
  }
  const creds = { agent, reviewers };
  writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  return creds;
}
