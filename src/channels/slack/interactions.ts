import { createHash } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { errorCodes, isCountersignError } from '../../core/errors.js';
import type { Reviewer } from '../../core/identity.js';
import type { Vote } from '../../core/request.js';
import type { ChatIdentityLinks } from '../../identity/chat-links.js';
import type { Service, ServiceLogger } from '../../service/service.js';
import type { SqliteSlackState } from '../../store/sqlite/slack.js';
import { approveAction, denyAction, denyModal, denyView, requestIdPattern } from './blocks.js';
import { plainMrkdwn } from './escape.js';
import type { SlackWebApi } from './web-api.js';

/** What we answer Slack: an HTTP status and, for a modal submission, a response body. */
export interface InteractionReply {
  status: number;
  body?: Record<string, unknown>;
}

export interface InteractionDeps {
  service: Service;
  links: ChatIdentityLinks;
  api: SlackWebApi;
  state: SqliteSlackState;
  clock: Clock;
  teamIds: readonly string[];
  appIds: readonly string[];
  /** Starts self-service linking (the identity module's link flow), offered to unlinked users. */
  startLink?: (teamId: string, userId: string) => Promise<{ url: string }>;
  logger?: ServiceLogger;
}

/** The few fields of an interaction payload we read, checked at runtime: Slack's JSON is input. */
interface Interaction {
  type: string;
  teamId: string;
  appId: string;
  userId: string;
  channelId: string | null;
  raw: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function parse(payload: unknown): Interaction | undefined {
  const p = obj(payload);
  const user = obj(p.user);
  const type = str(p.type);
  const teamId = str(obj(p.team).id) ?? str(user.team_id);
  const appId = str(p.api_app_id);
  const userId = str(user.id);
  if (!type || !teamId || !appId || !userId) return undefined;
  return { type, teamId, appId, userId, channelId: str(obj(p.channel).id) ?? null, raw: p };
}

/** Repeated deliveries are recognised for longer than a signature stays valid. */
const dedupMs = 10 * 60_000;

const unlinked =
  'Your Slack account is not linked to a Countersign reviewer, so your vote was not recorded. Ask your Countersign administrator to link it (docs/slack.md, "Linking users").';

/**
 * Turns a verified Slack interaction into a vote. Order matters: workspace and app allowlists,
 * then de-duplication, then the reviewer behind the Slack user; only then the service, which alone
 * decides whether this reviewer may vote. Shared by the HTTP endpoint and Socket Mode.
 */
export class SlackInteractions {
  constructor(private readonly deps: InteractionDeps) {}

  /** `deliveryKey` identifies the transport delivery (signature, envelope id) for replay refusal. */
  async handle(payload: unknown, deliveryKey: string | null): Promise<InteractionReply> {
    const i = parse(payload);
    if (!i) return { status: 400 };
    if (!this.deps.teamIds.includes(i.teamId) || !this.deps.appIds.includes(i.appId)) {
      this.deps.logger?.warn(
        { team: i.teamId, app: i.appId },
        'Slack interaction from an unknown workspace or app refused',
      );
      return { status: 403 };
    }
    const now = this.deps.clock.now();
    for (const key of [deliveryKey, this.interactionKey(i)]) {
      if (key && !(await this.deps.state.first(key, now, dedupMs))) {
        this.deps.logger?.warn({ team: i.teamId, user: i.userId }, 'repeated Slack delivery ignored');
        return { status: 200 };
      }
    }
    if (i.type === 'block_actions') return this.blockAction(i);
    if (i.type === 'view_submission' && str(obj(i.raw.view).callback_id) === denyModal)
      return this.denySubmitted(i);
    return { status: 200 };
  }

  /** The same click delivered twice (Slack retry, Socket Mode redelivery, replay) has the same key. */
  private interactionKey(i: Interaction): string | null {
    const action = obj((i.raw.actions as unknown[] | undefined)?.[0]);
    const view = obj(i.raw.view);
    const parts =
      i.type === 'block_actions'
        ? [str(action.action_ts), str(i.raw.trigger_id)]
        : [str(view.id), str(view.hash), str(i.raw.trigger_id)];
    if (parts.every((p) => p === undefined)) return null;
    const digest = createHash('sha256')
      .update(JSON.stringify([i.type, i.teamId, i.userId, ...parts]))
      .digest('hex');
    return `interaction:${digest}`;
  }

  private async reviewer(i: Interaction): Promise<Reviewer | undefined> {
    try {
      return await this.deps.links.resolve('slack', i.teamId, i.userId);
    } catch (error) {
      this.deps.logger?.error(
        { err: error, user: i.userId },
        'Slack user could not be resolved; vote refused',
      );
      return undefined;
    }
  }

  private async blockAction(i: Interaction): Promise<InteractionReply> {
    const action = obj((i.raw.actions as unknown[] | undefined)?.[0]);
    const actionId = str(action.action_id);
    const id = str(action.value);
    if ((actionId !== approveAction && actionId !== denyAction) || !id || !requestIdPattern.test(id)) {
      return { status: 200 };
    }
    const reviewer = await this.reviewer(i);
    if (!reviewer) {
      await this.refuseUnlinked(i);
      return { status: 200 };
    }
    if (actionId === approveAction) {
      await this.vote(i, reviewer, id, 'approve', '');
      return { status: 200 };
    }
    await this.openDenyModal(i, id);
    return { status: 200 };
  }

  private async openDenyModal(i: Interaction, id: string): Promise<void> {
    const trigger = str(i.raw.trigger_id);
    try {
      const { request } = await this.deps.service.get(id);
      if (!trigger) throw new Error('the click carried no trigger_id');
      await this.deps.api.callOnce('views.open', {
        trigger_id: trigger,
        view: denyView(request, { id, channel: i.channelId }),
      });
    } catch (error) {
      this.deps.logger?.warn(
        { err: (error as Error).message, request: id },
        'could not open the deny dialog',
      );
      this.ephemeral(
        i,
        'The deny dialog could not be opened. Deny the request in the console, or try again.',
      );
    }
  }

  private async denySubmitted(i: Interaction): Promise<InteractionReply> {
    const view = obj(i.raw.view);
    let meta: { id?: unknown; channel?: unknown } = {};
    try {
      meta = obj(JSON.parse(str(view.private_metadata) ?? '{}'));
    } catch {
      return { status: 400 };
    }
    const id = str(meta.id);
    if (!id || !requestIdPattern.test(id)) return { status: 400 };
    const reason = str(obj(obj(obj(obj(view.state).values).reason).reason).value)?.trim() ?? '';
    const errors = (message: string) => ({
      status: 200,
      body: { response_action: 'errors', errors: { reason: message } },
    });
    if (!reason) return errors('Say why you deny the request.');
    const reviewer = await this.reviewer(i);
    if (!reviewer) return errors(unlinked);
    const target = { ...i, channelId: str(meta.channel) ?? i.channelId };
    const refused = await this.vote(target, reviewer, id, 'deny', reason.slice(0, 500));
    return refused ? errors(refused) : { status: 200 };
  }

  /** Casts the vote through the service; returns the refusal shown to the reviewer, if any. */
  private async vote(
    i: Interaction,
    reviewer: Reviewer,
    id: string,
    vote: Vote,
    comment: string,
  ): Promise<string | null> {
    try {
      await this.deps.service.review(id, reviewer, vote, comment, 'slack');
      this.ephemeral(i, `Your ${vote === 'approve' ? 'approval' : 'denial'} of ${id} was recorded.`);
      return null;
    } catch (error) {
      if (!isCountersignError(error)) {
        this.deps.logger?.error({ err: error, request: id }, 'Slack vote failed');
        const text =
          'Your vote could not be recorded because of an internal error; nothing changed. Try again or use the console.';
        this.ephemeral(i, text);
        return text;
      }
      const text = `Your vote was not recorded: ${error.message}. ${errorCodes[error.code].fix}`;
      this.ephemeral(i, text);
      return text;
    }
  }

  /** Explains the refusal and, when the identity module offers it, a link to connect the account. */
  private async refuseUnlinked(i: Interaction): Promise<void> {
    let link = '';
    if (this.deps.startLink) {
      try {
        const { url } = await this.deps.startLink(i.teamId, i.userId);
        // Our own URL, but it goes into markup: only a plain http(s) URL with no markup characters.
        if (/^https?:\/\/[^\s|<>]+$/.test(url))
          link = ` <${url}|Link your Slack account> (the link is for you only).`;
      } catch (error) {
        this.deps.logger?.warn(
          { err: (error as Error).message, user: i.userId },
          'could not start chat linking',
        );
      }
    }
    this.ephemeral(i, unlinked, link);
  }

  /** Tells only the clicking user; fire and forget, a failure is logged. `markup` is ours, unescaped. */
  private ephemeral(i: Interaction, text: string, markup = ''): void {
    if (!i.channelId) return;
    this.deps.api
      .call('chat.postEphemeral', {
        channel: i.channelId,
        user: i.userId,
        text: plainMrkdwn(text, 2000) + markup,
      })
      .catch((error: unknown) =>
        this.deps.logger?.warn({ err: (error as Error).message, user: i.userId }, 'ephemeral reply failed'),
      );
  }
}
