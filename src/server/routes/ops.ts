import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Registry } from 'prom-client';

export interface OpsRoutesOptions {
  registry: Registry;
  /** Throws when the gateway cannot serve decisions (store unreadable or not writable, no policy). */
  ready: () => Promise<void>;
}

const Status = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) });

const Home = Type.Object({
  service: Type.Literal('countersign'),
  about: Type.String(),
  links: Type.Record(Type.String(), Type.String()),
});

export const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (app, { registry, ready }) => {
  // Where a browser sign-in without return_to lands, and what `curl` of the bare URL shows: a
  // pointer to what there is, rather than a 404 that reads like a broken gateway.
  app.get(
    '/',
    { schema: { tags: ['ops'], summary: 'What this gateway serves', response: { 200: Home } } },
    async () => ({
      service: 'countersign' as const,
      about:
        'Approvals gateway: agents submit actions, reviewers vote (CLI, Slack, API). There is no web console; these are the entry points.',
      links: {
        session: '/auth/session',
        pendingReviews: '/v1/reviews/pending',
        api: '/v1/openapi.json',
        health: '/healthz',
        ready: '/readyz',
      },
    }),
  );

  app.get(
    '/healthz',
    { schema: { tags: ['ops'], summary: 'The process is up', response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'The gateway can decide: store reads and durable writes work, policy loaded',
        response: { 200: Status, 503: Status },
      },
    },
    async (request, reply) => {
      try {
        await ready();
        return { status: 'ready' };
      } catch (error) {
        request.log.warn({ err: error }, 'not ready');
        return reply
          .code(503)
          .send({ status: 'unavailable', reason: 'store or policy not available; see the server log' });
      }
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics', hide: false } },
    async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );

  app.get('/v1/openapi.json', { schema: { tags: ['ops'], summary: 'This OpenAPI document' } }, async () =>
    app.swagger(),
  );
};
