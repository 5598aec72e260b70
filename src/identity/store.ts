/** A human as the identity provider vouched for them at login. The key is issuer + subject. */
export interface OidcIdentity {
  /** `issuer#subject`: the stable key; an email is only an attribute. */
  id: string;
  issuer: string;
  subject: string;
  email: string;
  name: string;
  /** Groups the IdP asserted at login (raw names, before groupMap). */
  idpGroups: string[];
}

export type SessionKind = 'web' | 'cli';

/** A reviewer session. Only a hash of its secret is stored. */
export interface SessionRecord {
  id: string;
  kind: SessionKind;
  secretHash: string;
  person: OidcIdentity;
  /** When the IdP last authenticated the person (ms), for step-up rules. */
  authTime: number;
  createdAt: number;
  lastSeenAt: number;
  /** The absolute timeout: the session ends here whatever its activity. */
  expiresAt: number;
  revokedAt: number | null;
}

export type TicketPurpose = 'login' | 'cli_code' | 'chat_link' | 'chat_confirm';

/** A short-lived, single-use record: a login in progress, a CLI code, a chat link offer. */
export interface Ticket {
  id: string;
  purpose: TicketPurpose;
  expiresAt: number;
  data: Record<string, unknown>;
}

export type ChatPlatform = 'slack' | 'teams';

export interface ChatLinkRecord {
  platform: ChatPlatform;
  teamId: string;
  userId: string;
  person: OidcIdentity;
  /** auth_time of the login that made the link (ms). */
  authTime: number;
  linkedAt: number;
}

/** Persistence for identity: sessions, single-use tickets, chat links, people seen at login. */
export interface IdentityStore {
  putSession(s: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  touchSession(id: string, at: number): Promise<void>;
  revokeSession(id: string, at: number): Promise<boolean>;

  putTicket(t: Ticket): Promise<void>;
  /** Returns the ticket and deletes it in one step: a ticket can be redeemed once. */
  takeTicket(id: string, purpose: TicketPurpose, now: number): Promise<Ticket | undefined>;

  putChatLink(l: ChatLinkRecord): Promise<void>;
  getChatLink(platform: ChatPlatform, teamId: string, userId: string): Promise<ChatLinkRecord | undefined>;
  deleteChatLink(platform: ChatPlatform, teamId: string, userId: string): Promise<boolean>;
  /** The most recent link of a reviewer (by `issuer#subject` id or by email) on a platform. */
  chatLinkFor(platform: ChatPlatform, reviewerOrEmail: string): Promise<ChatLinkRecord | undefined>;

  rememberPerson(p: OidcIdentity, at: number): Promise<void>;
  peopleByEmail(email: string): Promise<OidcIdentity[]>;
}
