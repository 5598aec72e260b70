import type { IdentityConfig } from '../config/identity.js';
import type { Clock } from '../core/clock.js';
import type { AuditEvent } from '../core/event.js';
import type { Reviewer } from '../core/identity.js';
import { newSecret } from '../util/ids.js';
import { reviewerFor } from './reviewers.js';
import type { ChatPlatform, IdentityStore, OidcIdentity } from './store.js';

export type { ChatPlatform } from './store.js';

/**
 * Who a chat user is, for the Slack and Teams channels: the verified reviewer behind a chat
 * account, rebuilt on every call so eligibility is evaluated when the vote is cast.
 *
 * `profileEmail` (the chat platform's verified profile email) is used only by implementations
 * configured to match by email (`identity.chat.matchByEmail`); callers may leave it out.
 */
export interface ChatIdentityLinks {
  resolve(
    platform: ChatPlatform,
    teamId: string,
    userId: string,
    profileEmail?: string,
  ): Promise<Reviewer | undefined>;
}

/**
 * Links made by the chat user themselves: a single-use link the bot sends them (in a direct
 * message), an OIDC login, and a confirmation page naming the chat account.
 */
export interface ChatLinkFlow extends ChatIdentityLinks {
  /** A single-use link for the bot to send to exactly this chat user. */
  startLink(
    platform: ChatPlatform,
    teamId: string,
    userId: string,
  ): Promise<{ url: string; expiresAt: number }>;
  unlink(platform: ChatPlatform, teamId: string, userId: string): Promise<boolean>;
  /** The chat user linked to a reviewer id or email, e.g. to tell a requester the outcome. */
  userFor(
    platform: ChatPlatform,
    reviewerOrEmail: string,
  ): Promise<{ team: string; user: string } | undefined>;
}

/** Asks each source in turn (e.g. OIDC-made links, then links listed in the configuration). */
export function firstOf(...sources: ChatIdentityLinks[]): ChatIdentityLinks {
  return {
    async resolve(platform, teamId, userId, profileEmail) {
      for (const s of sources) {
        const r = await s.resolve(platform, teamId, userId, profileEmail);
        if (r) return r;
      }
      return undefined;
    },
  };
}

export interface StaticChatLink {
  platform: ChatPlatform;
  team: string;
  user: string;
  /** A reviewer id from the reviewer directory. */
  reviewer: string;
}

/**
 * Links listed in the configuration (`slack.users`), for development and small teams; written
 * on the slack branch and kept here verbatim so both branches share one file. The reviewer is
 * looked up in the directory on every call, so removing someone takes effect at once.
 */
export class StaticChatLinks implements ChatIdentityLinks {
  constructor(
    private readonly links: readonly StaticChatLink[],
    private readonly directory: { get(id: string): Reviewer | undefined },
  ) {}

  async resolve(platform: ChatPlatform, teamId: string, userId: string): Promise<Reviewer | undefined> {
    const link = this.links.find((l) => l.platform === platform && l.team === teamId && l.user === userId);
    return link ? this.directory.get(link.reviewer) : undefined;
  }

  /** The chat user linked to a reviewer id or email, to tell a requester's human the outcome. */
  userFor(platform: ChatPlatform, reviewerOrEmail: string): { team: string; user: string } | undefined {
    const key = reviewerOrEmail.trim().toLowerCase();
    const link = this.links.find((l) => {
      if (l.platform !== platform) return false;
      if (l.reviewer.toLowerCase() === key) return true;
      return this.directory.get(l.reviewer)?.email.toLowerCase() === key;
    });
    return link ? { team: link.team, user: link.user } : undefined;
  }
}

export interface ChatTarget {
  platform: ChatPlatform;
  teamId: string;
  userId: string;
}

/** Links made through the OIDC flow and kept in the identity store. */
export class StoredChatLinks implements ChatLinkFlow {
  constructor(
    private readonly store: IdentityStore,
    private readonly config: IdentityConfig,
    private readonly clock: Clock,
    private readonly audit: (events: AuditEvent[]) => Promise<void>,
  ) {}

  async resolve(platform: ChatPlatform, teamId: string, userId: string, profileEmail?: string) {
    const link = await this.store.getChatLink(platform, teamId, userId);
    if (link) return reviewerFor(this.config, link.person, link.authTime);
    if (!this.config.chat.matchByEmail || !profileEmail) return undefined;
    const people = await this.store.peopleByEmail(profileEmail);
    // Ambiguity refuses: two IdP subjects with one email must not be guessed between.
    return people.length === 1 ? reviewerFor(this.config, people[0] as OidcIdentity) : undefined;
  }

  async startLink(platform: ChatPlatform, teamId: string, userId: string) {
    const id = newSecret(32);
    const expiresAt = this.clock.now() + this.config.chat.linkTtlMs;
    await this.store.putTicket({ id, purpose: 'chat_link', expiresAt, data: { platform, teamId, userId } });
    return { url: `${this.config.publicUrl}/auth/link/${id}`, expiresAt };
  }

  /** Redeems a link the bot sent (once): which chat user it was for. */
  async redeem(id: string): Promise<ChatTarget | undefined> {
    const t = await this.store.takeTicket(id, 'chat_link', this.clock.now());
    return t ? (t.data as unknown as ChatTarget) : undefined;
  }

  /** Records the link after the person signed in and confirmed it. */
  async complete(target: ChatTarget, person: OidcIdentity, authTime: number): Promise<void> {
    const now = this.clock.now();
    await this.audit([
      {
        kind: 'chat.linked',
        at: now,
        requestId: null,
        subject: { type: 'reviewer', id: person.id },
        details: { ...target, email: person.email },
      },
    ]);
    await this.store.putChatLink({ ...target, person, authTime, linkedAt: now });
  }

  async userFor(platform: ChatPlatform, reviewerOrEmail: string) {
    const link = await this.store.chatLinkFor(platform, reviewerOrEmail.trim());
    return link ? { team: link.teamId, user: link.userId } : undefined;
  }

  async unlink(platform: ChatPlatform, teamId: string, userId: string): Promise<boolean> {
    const link = await this.store.getChatLink(platform, teamId, userId);
    if (!link) return false;
    await this.audit([
      {
        kind: 'chat.unlinked',
        at: this.clock.now(),
        requestId: null,
        subject: { type: 'reviewer', id: link.person.id },
        details: { platform, teamId, userId },
      },
    ]);
    return this.store.deleteChatLink(platform, teamId, userId);
  }
}
