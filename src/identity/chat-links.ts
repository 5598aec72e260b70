import type { Reviewer } from '../core/identity.js';

/**
 * Links a chat account (Slack or Teams user in a workspace/tenant) to a verified reviewer.
 * Declared here minimally for the Slack channel; the identity work provides the full version.
 */
export interface ChatIdentityLinks {
  resolve(platform: 'slack' | 'teams', teamId: string, userId: string): Promise<Reviewer | undefined>;
}

export interface StaticChatLink {
  platform: 'slack' | 'teams';
  team: string;
  user: string;
  /** A reviewer id from the reviewer directory. */
  reviewer: string;
}

/**
 * Links listed in the configuration (`slack.users`), for development and small teams. The
 * reviewer is looked up in the directory on every call, so removing someone from the directory
 * (or from a group) takes effect at once.
 */
export class StaticChatLinks implements ChatIdentityLinks {
  constructor(
    private readonly links: readonly StaticChatLink[],
    private readonly directory: { get(id: string): Reviewer | undefined },
  ) {}

  async resolve(platform: 'slack' | 'teams', teamId: string, userId: string): Promise<Reviewer | undefined> {
    const link = this.links.find((l) => l.platform === platform && l.team === teamId && l.user === userId);
    return link ? this.directory.get(link.reviewer) : undefined;
  }

  /** The chat user linked to a reviewer id or email, to tell a requester's human the outcome. */
  userFor(platform: 'slack' | 'teams', reviewerOrEmail: string): { team: string; user: string } | undefined {
    const key = reviewerOrEmail.trim().toLowerCase();
    const link = this.links.find((l) => {
      if (l.platform !== platform) return false;
      if (l.reviewer.toLowerCase() === key) return true;
      return this.directory.get(l.reviewer)?.email.toLowerCase() === key;
    });
    return link ? { team: link.team, user: link.user } : undefined;
  }
}
