import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { AuditLogStore } from '../audit/log.js';
import type { Authenticator } from '../service/auth.js';
import type { Service } from '../service/service.js';
import { authHooks } from './auth.js';
import { FrontRoutes } from './front.js';
import type { Metrics } from './metrics.js';
import { errorHandler, notFoundHandler } from './problem.js';
import { actionRoutes } from './routes/actions.js';
import { auditRoutes } from './routes/audit.js';
import { opsRoutes } from './routes/ops.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface AppOptions {
  service: Service;
  authenticator: Authenticator;
  metrics: Metrics;
  ready: () => Promise<void>;
  bodyLimit: number;
  maxWaitMs: number;
  logLevel: string;
  version: string;
  /** Why a submitted `callbackUrl` would never be called (null: it may be); absent: no check. */
  callbackRefusal?: (url: string) => string | null;
  /** The audit log's read side and verifier key; its routes are served when given. */
  audit?: { log: AuditLogStore; verifierKey: string };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Paths served ahead of Fastify's router (see FrontRoutes); `inject` does not reach them. */
    front: FrontRoutes;
  }
}

/** Builds the HTTP app. Listening is the caller's business, so tests can use `inject` or a real port. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const front = new FrontRoutes(options.metrics);
  const app = Fastify({
    serverFactory: (handler, factoryOptions) => front.server(handler, factoryOptions),
    bodyLimit: options.bodyLimit,
    logger: { level: options.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    // Per-request logs cost more than the request at thousands per second; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => crypto.randomUUID(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Unknown fields are an error, never silently dropped. Only query strings and path parameters
  // (which arrive as text) are coerced; a JSON body must carry the right types itself.
  const strict = new Ajv({
    removeAdditional: false,
    coerceTypes: false,
    useDefaults: true,
    allErrors: true,
    strict: false,
  });
  const coercing = new Ajv({
    removeAdditional: false,
    coerceTypes: 'array',
    useDefaults: true,
    allErrors: true,
    strict: false,
  });
  for (const ajv of [strict, coercing]) addFormats(ajv);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );
  // Only JSON bodies are accepted; anything else is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');

  app.decorate('front', front);
  app.decorateRequest('caller', null);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onResponse', async (request, reply) => {
    options.metrics.http.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Countersign API',
        version: options.version,
        description: 'Approvals gateway: submit actions, review them, read decisions.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'Agent key (csk_…) or reviewer token (csr_…).',
          },
        },
      },
    },
  });
  await app.register(opsRoutes, { registry: options.metrics.registry, ready: options.ready });
  await app.register(actionRoutes, {
    service: options.service,
    auth: authHooks(options.authenticator),
    maxWaitMs: options.maxWaitMs,
    ...(options.callbackRefusal ? { callbackRefusal: options.callbackRefusal } : {}),
  });
  if (options.audit)
    await app.register(auditRoutes, { ...options.audit, auth: authHooks(options.authenticator) });
  return app;
}
