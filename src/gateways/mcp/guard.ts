import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { actionHash, type Json } from '../../core/action.js';
import type { Cancellation } from '../../core/cancel.js';
import { isCountersignError } from '../../core/errors.js';
import type { Actor } from '../../core/identity.js';
import { isDue, mayExecute } from '../../core/lifecycle.js';
import type { ActionRequest } from '../../core/request.js';
import type { Service } from '../../service/service.js';
import * as text from './messages.js';
import type { Recall } from './recall.js';
import { describe } from './upstream.js';

export const mcpActionTypes = ['mcp.tools.call', 'mcp.resources.read', 'mcp.prompts.get'] as const;
export type McpActionType = (typeof mcpActionTypes)[number];

export type Params = { [key: string]: Json };

/** One MCP request turned into an action: `resource` is `UPSTREAM/TARGET`. */
export interface GuardCall {
  type: McpActionType;
  upstream: string;
  /** Tool name, resource URI or prompt name. */
  target: string;
  params: Params;
  justification?: string | undefined;
}

export interface CallContext {
  actor: Actor;
  allowedTypes: string[] | null;
  signal: Cancellation;
  /** Present when the client sent a progress token. */
  progress?: ((step: number, message: string) => Promise<void>) | undefined;
}

export type Outcome<T> =
  | { kind: 'ran'; value: T; request: ActionRequest }
  | { kind: 'refused'; text: string; request?: ActionRequest }
  | { kind: 'pending'; text: string; request: ActionRequest };

/** Runs the decided action upstream with exactly the params it is given. */
export interface Runner<T> {
  run(request: ActionRequest, params: Params): Promise<T>;
  /** How the result is recorded in the audit log. */
  summarize(value: T): { outcome: 'succeeded' | 'failed'; detail: string };
}

export interface GuardLogger {
  warn(obj: object, msg: string): void;
}

export interface GuardOptions {
  service: Service;
  recall: Recall;
  holdMs: number;
  denyRepeatWindowMs: number;
  /**
   * Forward an allowed call only once its record is on disk. Otherwise it is forwarded while the
   * record is flushed, and nothing goes back before the flush is done (decision 0014).
   */
  recordBeforeForward?: boolean;
  logger: GuardLogger;
  /** Between progress notifications while a call is held. */
  progressEveryMs?: number;
}

/**
 * Turns MCP requests into action requests and enforces the decision: the one place in the MCP
 * gateway that decides whether anything reaches an upstream.
 */
export class Guard {
  /** Requests being executed by this process: an approval runs at most once. */
  private readonly running = new Set<string>();
  private readonly progressEveryMs: number;

  constructor(private readonly o: GuardOptions) {
    this.progressEveryMs = o.progressEveryMs ?? 5_000;
  }

  async call<T>(call: GuardCall, ctx: CallContext, runner: Runner<T>): Promise<Outcome<T>> {
    const resource = `${call.upstream}/${call.target}`;
    // Only an actor with a remembered request can repeat one; hashing every call would cost a
    // canonical serialization and a SHA-256 that the service repeats when it submits.
    if (this.o.recall.holds(ctx.actor.id)) {
      const hash = actionHash({ type: call.type, resource, params: call.params });
      const joined = await this.rejoin(ctx.actor, hash);
      if (joined) return this.settle(joined.request, ctx, runner, { repeat: joined.repeat, fresh: false });
    }
    let submitted: { request: ActionRequest; durable: Promise<void> };
    const input = {
      type: call.type,
      resource,
      params: call.params,
      justification: call.justification ?? `MCP ${call.type.slice(4)} by ${ctx.actor.name}`,
    };
    try {
      submitted = this.o.recordBeforeForward
        ? {
            request: await this.o.service.submit(ctx.actor, input, ctx.allowedTypes),
            durable: Promise.resolve(),
          }
        : await this.o.service.submitToRun(ctx.actor, input, ctx.allowedTypes);
    } catch (error) {
      return this.submitFailed(error);
    }
    const { request, durable } = submitted;
    if (request.status === 'pending') this.o.recall.remember(ctx.actor.id, request.hash, request.id);
    return this.afterFlush(
      request,
      durable,
      this.settle(request, ctx, runner, { repeat: false, fresh: true }),
    );
  }

  /**
   * An allowed call is forwarded while its record is being flushed (decision 0014), and nothing
   * about it, result or error, goes back before that flush is done. If the flush fails, the result
   * is withheld: the agent learns that the call may have run but was not recorded.
   */
  private async afterFlush<T>(
    request: ActionRequest,
    durable: Promise<void>,
    outcome: Promise<Outcome<T>>,
  ): Promise<Outcome<T>> {
    const [settled, flushed] = await Promise.allSettled([outcome, durable]);
    if (flushed.status === 'rejected') {
      this.o.logger.warn(
        { err: describe(flushed.reason), request: request.id },
        'the record of an MCP call could not be flushed after it was forwarded; its result was withheld',
      );
      throw new McpError(ErrorCode.InternalError, text.unrecordedText(request));
    }
    if (settled.status === 'rejected') throw settled.reason;
    return settled.value;
  }

  /** `countersign_await_decision`: continue a request this actor made earlier. */
  async resume<T>(request: ActionRequest, ctx: CallContext, runner: Runner<T>): Promise<Outcome<T>> {
    return this.settle(request, ctx, runner, { repeat: false, fresh: false });
  }

  /** A request this actor made for the same action hash that still decides this call, if any. */
  private async rejoin(
    actor: Actor,
    hash: string,
  ): Promise<{ request: ActionRequest; repeat: boolean } | null> {
    const id = this.o.recall.lookup(actor.id, hash);
    if (!id) return null;
    const request = await this.o.service.getFor(id, { actor }).then(
      (s) => s.request,
      () => null,
    );
    const now = this.o.service.clock.now();
    if (request?.status === 'pending' && !isDue(request, now)) return { request, repeat: false };
    if (request?.status === 'approved') return { request, repeat: false };
    if (request?.status === 'rejected' && (request.decidedAt ?? 0) + this.o.denyRepeatWindowMs > now)
      return { request, repeat: true };
    this.o.recall.forget(actor.id, hash, id);
    return null;
  }

  private submitFailed(error: unknown): Outcome<never> {
    if (isCountersignError(error) && error.code === 'CS_ERR_FORBIDDEN')
      return { kind: 'refused', text: text.refusedByGatewayText(error.message) };
    if (isCountersignError(error) && error.code === 'CS_ERR_POLICY')
      return {
        kind: 'refused',
        text: text.refusedByGatewayText('the policy could not be evaluated, and Countersign fails closed'),
      };
    this.o.logger.warn({ err: describe(error) }, 'could not submit an MCP call; nothing was forwarded');
    throw new McpError(
      ErrorCode.InternalError,
      'Countersign could not record this call, so nothing was run. Try again in a moment.',
    );
  }

  private async settle<T>(
    request: ActionRequest,
    ctx: CallContext,
    runner: Runner<T>,
    how: { repeat: boolean; fresh: boolean },
  ): Promise<Outcome<T>> {
    const r = request.status === 'pending' ? await this.hold(request, ctx) : request;
    switch (r.status) {
      case 'allowed':
      case 'approved':
        return this.execute(r, runner, how.fresh && r === request);
      case 'pending':
        if (isDue(r, this.o.service.clock.now()))
          return { kind: 'refused', text: text.expiredText(r), request: r };
        return { kind: 'pending', text: text.pendingText(r), request: r };
      case 'denied':
        return { kind: 'refused', text: text.deniedText(r), request: r };
      case 'rejected':
        return {
          kind: 'refused',
          text: how.repeat ? text.repeatText(r, this.o.denyRepeatWindowMs) : text.rejectedText(r),
          request: r,
        };
      case 'expired':
        return { kind: 'refused', text: text.expiredText(r), request: r };
      case 'cancelled':
        return { kind: 'refused', text: text.cancelledText(r), request: r };
      default:
        return { kind: 'refused', text: text.alreadyRanText(r), request: r };
    }
  }

  /**
   * Holds a pending call open, woken by the notifier, for at most the hold bound. Progress
   * notifications keep the client from timing out and tell the user what is happening.
   */
  private async hold(request: ActionRequest, ctx: CallContext): Promise<ActionRequest> {
    const deadline = performance.now() + this.o.holdMs;
    let r = request;
    let step = 0;
    // A request past its TTL is as good as expired (the sweeper will mark it): stop waiting.
    while (r.status === 'pending' && !ctx.signal.aborted && !isDue(r, this.o.service.clock.now())) {
      await ctx.progress?.(++step, text.progressText(r)).catch(() => {});
      const left = deadline - performance.now();
      if (left <= 0) break;
      r = await this.o.service.waitForDecision(
        r.id,
        { actor: ctx.actor },
        Math.min(left, this.progressEveryMs),
        ctx.signal,
      );
    }
    return r;
  }

  /**
   * Forwards the stored, decided params (never the caller's copy) after checking, on state read
   * right now, that this exact hash may run. `fresh` means the request was created by this very
   * call, so nobody else can know its id yet and the state in hand is current.
   */
  private async execute<T>(request: ActionRequest, runner: Runner<T>, fresh: boolean): Promise<Outcome<T>> {
    if (this.running.has(request.id)) return { kind: 'refused', text: text.alreadyRanText(request), request };
    this.running.add(request.id);
    let release = true;
    try {
      const r = fresh ? request : (await this.o.service.get(request.id)).request;
      const params = r.action.params;
      // A fresh request's hash was computed by the service from this same params object a moment
      // ago; any other request's is recomputed from exactly what is about to be sent.
      const hash = fresh ? r.hash : actionHash({ type: r.action.type, resource: r.action.resource, params });
      // The validity window is checked here, when the call starts; the result is recorded against
      // this time, so a call that outlasts the window still gets its record.
      const startedAt = this.o.service.clock.now();
      if (!mayExecute(r, hash, startedAt)) {
        const runOut = r.status === 'executed' || r.status === 'failed';
        return {
          kind: 'refused',
          text: runOut ? text.alreadyRanText(r) : text.notRunnableText(r),
          request: r,
        };
      }
      let value: T;
      try {
        value = await runner.run(r, params);
      } catch (error) {
        await this.record(
          r,
          { outcome: 'failed', detail: `upstream error: ${describe(error)}` },
          hash,
          startedAt,
          fresh,
        );
        throw error;
      }
      // The result goes back at once; the claim on the request is held until the result is
      // committed, so no second caller can run it in between (see docs/decisions/0009-mcp-gateway.md).
      release = false;
      this.recorded = this.record(r, runner.summarize(value), hash, startedAt, fresh).finally(() =>
        this.running.delete(r.id),
      );
      this.o.recall.forget(r.requester.id, r.hash, r.id);
      return { kind: 'ran', value, request: r };
    } finally {
      if (release) this.running.delete(request.id);
    }
  }

  /** The last result being recorded in the background; tests and shutdown can wait for it. */
  recorded: Promise<void> = Promise.resolve();

  /**
   * The action already ran: a failure to record is logged, and the result still goes back. A
   * `fresh` request is handed over as known: it is exactly as `submit` stored it.
   */
  private async record(
    r: ActionRequest,
    result: { outcome: 'succeeded' | 'failed'; detail: string },
    hash: string,
    startedAt: number,
    fresh: boolean,
  ): Promise<void> {
    // Deferred durability: the agent already has the result, and a durable commit here would make
    // the agent's next call wait for two disk flushes instead of one (decision 0009).
    const options = { deferDurability: true, ...(fresh ? { known: r } : {}) };
    await this.o.service
      .recordResult(r.id, r.requester, { ...result, hash, startedAt }, options)
      .catch((error: unknown) => {
        this.o.logger.warn({ err: describe(error), request: r.id }, 'could not record the MCP call result');
      });
  }
}
