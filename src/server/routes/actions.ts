import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { CountersignError } from '../../core/errors.js';
import type { Service } from '../../service/service.js';
import { actorOf, type authHooks, reviewerOf, viewer } from '../auth.js';
import {
  ActionList,
  ActionView,
  EventList,
  IdParams,
  ListQuery,
  PendingQuery,
  Problem,
  ResultBody,
  ReviewBody,
  SubmitBody,
  WaitQuery,
} from '../schemas.js';
import { actionView, eventView } from '../views.js';

export interface ActionRoutesOptions {
  service: Service;
  auth: ReturnType<typeof authHooks>;
  maxWaitMs: number;
  callbackRefusal?: (url: string) => string | null;
}

const errors = {
  400: Problem,
  401: Problem,
  403: Problem,
  404: Problem,
  409: Problem,
  413: Problem,
  503: Problem,
};
const bearer = [{ bearerAuth: [] }];

export const actionRoutes: FastifyPluginAsyncTypebox<ActionRoutesOptions> = async (
  app,
  { service, auth, maxWaitMs, callbackRefusal },
) => {
  app.post(
    '/v1/actions',
    {
      onRequest: auth.actor,
      schema: {
        tags: ['actions'],
        summary: 'Submit an action for a decision (agent)',
        security: bearer,
        body: SubmitBody,
        response: { 201: ActionView, ...errors },
      },
    },
    async (request, reply) => {
      const caller = request.caller;
      const allowed = caller?.kind === 'actor' ? caller.allowedTypes : null;
      const { type, resource, params, justification, callbackUrl } = request.body;
      const refused = callbackUrl === undefined ? null : callbackRefusal?.(callbackUrl);
      if (refused) throw new CountersignError('CS_ERR_VALIDATION', refused);
      const created = await service.submit(
        actorOf(request),
        {
          type,
          resource,
          params: (params ?? {}) as never,
          justification,
          ...(callbackUrl ? { callbackUrl } : {}),
        },
        allowed,
      );
      return reply.code(201).send(actionView({ request: created, reviews: [] }));
    },
  );

  app.get(
    '/v1/actions',
    {
      onRequest: auth.any,
      schema: {
        tags: ['actions'],
        summary: 'List requests: an agent sees its own, a reviewer all',
        security: bearer,
        querystring: ListQuery,
        response: { 200: ActionList, ...errors },
      },
    },
    async (request) => {
      const who = viewer(request);
      const limit = request.query.limit ?? 50;
      // One more than asked: whether it exists says if there is a next page, so a last page that
      // happens to be full does not send the client to an empty one.
      const found = await service.list({
        ...(request.query.status ? { status: [request.query.status] } : {}),
        ...(who.actor ? { actorId: who.actor.id } : {}),
        ...(request.query.before ? { before: request.query.before } : {}),
        limit: limit + 1,
      });
      const items = found.slice(0, limit);
      const views = await Promise.all(items.map(async (r) => actionView(await service.get(r.id))));
      return { items: views, next: found.length > limit ? (items[items.length - 1]?.id ?? null) : null };
    },
  );

  app.get(
    '/v1/actions/:id',
    {
      onRequest: auth.any,
      schema: {
        tags: ['actions'],
        summary: 'Read one request',
        security: bearer,
        params: IdParams,
        response: { 200: ActionView, ...errors },
      },
    },
    async (request) => actionView(await service.getFor(request.params.id, viewer(request))),
  );

  app.get(
    '/v1/actions/:id/events',
    {
      onRequest: auth.any,
      schema: {
        tags: ['actions'],
        summary: 'The audit trail of one request',
        security: bearer,
        params: IdParams,
        response: { 200: EventList, ...errors },
      },
    },
    async (request) => {
      await service.getFor(request.params.id, viewer(request));
      return { items: (await service.trail(request.params.id)).map(eventView) };
    },
  );

  app.get(
    '/v1/actions/:id/decision',
    {
      onRequest: auth.any,
      schema: {
        tags: ['actions'],
        summary: 'Long-poll until the request leaves pending, or `wait` seconds pass',
        security: bearer,
        params: IdParams,
        querystring: WaitQuery,
        response: { 200: ActionView, ...errors },
      },
    },
    async (request, reply) => {
      const waitMs = Math.min((request.query.wait ?? 0) * 1000, maxWaitMs);
      const who = viewer(request);
      // Stop waiting if the client goes away, so abandoned long-polls hold nothing.
      const controller = new AbortController();
      reply.raw.once('close', () => controller.abort());
      await service.waitForDecision(request.params.id, who, waitMs, controller.signal);
      return actionView(await service.getFor(request.params.id, who));
    },
  );

  app.post(
    '/v1/actions/:id/cancel',
    {
      onRequest: auth.actor,
      schema: {
        tags: ['actions'],
        summary: 'Withdraw a pending request (its agent)',
        security: bearer,
        params: IdParams,
        response: { 200: ActionView, ...errors },
      },
    },
    async (request) => {
      await service.cancel(request.params.id, actorOf(request));
      return actionView(await service.get(request.params.id));
    },
  );

  app.post(
    '/v1/actions/:id/reviews',
    {
      onRequest: auth.reviewer,
      schema: {
        tags: ['reviews'],
        summary: 'Approve or deny a pending request (reviewer)',
        security: bearer,
        params: IdParams,
        body: ReviewBody,
        response: { 200: ActionView, ...errors },
      },
    },
    async (request) =>
      actionView(
        await service.review(
          request.params.id,
          reviewerOf(request),
          request.body.vote,
          request.body.comment ?? '',
          'api',
        ),
      ),
  );

  app.post(
    '/v1/actions/:id/result',
    {
      onRequest: auth.actor,
      schema: {
        tags: ['actions'],
        summary: 'Record the outcome of an allowed or approved action, once (its agent)',
        security: bearer,
        params: IdParams,
        body: ResultBody,
        response: { 200: ActionView, ...errors },
      },
    },
    async (request) => {
      const { outcome, detail, hash } = request.body;
      await service.recordResult(request.params.id, actorOf(request), {
        outcome,
        detail: detail ?? '',
        hash,
      });
      return actionView(await service.get(request.params.id));
    },
  );

  app.get(
    '/v1/reviews/pending',
    {
      onRequest: auth.reviewer,
      schema: {
        tags: ['reviews'],
        summary: 'Requests this reviewer may vote on',
        security: bearer,
        querystring: PendingQuery,
        response: { 200: ActionList, ...errors },
      },
    },
    async (request) => {
      const { items, next } = await service.pendingFor(reviewerOf(request), {
        limit: request.query.limit ?? 100,
        before: request.query.before,
      });
      return { items: items.map(actionView), next };
    },
  );

  app.get(
    '/v1/whoami',
    {
      onRequest: auth.any,
      schema: {
        tags: ['identity'],
        summary: 'Who the credential belongs to',
        security: bearer,
        response: {
          200: Type.Object({
            kind: Type.String(),
            id: Type.String(),
            name: Type.String(),
            principal: Type.Union([Type.String(), Type.Null()]),
            groups: Type.Array(Type.String()),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const c = request.caller;
      if (c?.kind === 'actor')
        return {
          kind: 'actor',
          id: c.actor.id,
          name: c.actor.name,
          principal: c.actor.principal,
          groups: [],
        };
      const r = reviewerOf(request);
      return { kind: 'reviewer', id: r.id, name: r.name, principal: r.email, groups: r.groups };
    },
  );
};
