import type { IdentityConfig } from '../config/identity.js';
import type { Clock } from '../core/clock.js';
import type { AuditEvent } from '../core/event.js';
import type { Reviewer } from '../core/identity.js';
import { newSecret } from '../util/ids.js';
import { reviewerFor } from './reviewers.js';
import type { ChatPlatform, IdentityStore, OidcIdentity } from './store.js';

export type { ChatPlatform } from './store.js';

/**
 * Who a chat user is, for the Slack and Teams channels. A link is made only by that chat user
 * completing an OIDC login from a single-use link the bot sent them, and confirming it; the
 * reviewer (with groups from the current configuration) is rebuilt on every `resolve`, so
 * eligibility is evaluated when the vote is cast.
 */
export interface ChatIdentityLinks {
  /**
   * The verified reviewer behind a chat user, or undefined when there is no link. `profileEmail`
   * (the chat platform's verified profile email) is used only when `identity.chat.matchByEmail`
   * is on, and only when exactly one person who signed in before has that email.
   */
  resolve(
    platform: ChatPlatform,
    teamId: string,
    userId: string,
    profileEmail?: string,
  ): Promise<Reviewer | undefined>;
  /** A single-use link for the bot to send to exactly this chat user (in a direct message). */
  startLink(
    platform: ChatPlatform,
    teamId: string,
    userId: string,
  ): Promise<{ url: string; expiresAt: number }>;
  unlink(platform: ChatPlatform, teamId: string, userId: string): Promise<boolean>;
}

export interface ChatTarget {
  platform: ChatPlatform;
  teamId: string;
  userId: string;
}

export class StoredChatLinks implements ChatIdentityLinks {
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
