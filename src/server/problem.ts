import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CountersignError, type ErrorCode, errorCodes } from '../core/errors.js';

export const problemType = (code: ErrorCode) => `https://countersign.dev/errors/${code}`;

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  detail?: string,
  extra?: Record<string, unknown>,
) {
  const entry = errorCodes[code];
  return reply
    .code(entry.status)
    .type('application/problem+json')
    .send({
      ...extra,
      type: problemType(code),
      title: entry.title,
      status: entry.status,
      ...(detail ? { detail } : {}),
      instance: `urn:countersign:request:${request.id}`,
      code,
      fix: entry.fix,
    });
}

/** Fastify's own error codes for malformed input, mapped onto ours. */
const framework: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'CS_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'CS_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'CS_ERR_BAD_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'CS_ERR_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'CS_ERR_BAD_JSON',
};

/**
 * Every error leaves as RFC 9457 problem details. Known errors say what was wrong and what to do;
 * anything unexpected is a bare 500 whose only detail is the correlation id, logged with the cause.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof CountersignError) {
    if (error.status >= 500)
      request.log.error({ err: error.cause ?? error, code: error.code }, error.message);
    return send(reply, request, error.code, error.message, error.extra);
  }
  if (error.validation) {
    const context = error.validationContext ?? 'body';
    const errors = error.validation.map((v) => {
      const params = v.params as Record<string, unknown>;
      const extraKey = params.additionalProperty ? `/${String(params.additionalProperty)}` : '';
      const missing = params.missingProperty ? `/${String(params.missingProperty)}` : '';
      return {
        path: `${context}${v.instancePath}${extraKey}${missing}`,
        message: extraKey ? 'is not a known field' : (v.message ?? 'is invalid'),
      };
    });
    return send(reply, request, 'CS_ERR_VALIDATION', errors.map((e) => `${e.path} ${e.message}`).join('; '), {
      errors,
    });
  }
  const mapped =
    (error.code && framework[error.code]) || (error instanceof SyntaxError ? 'CS_ERR_BAD_JSON' : undefined);
  if (mapped)
    return send(
      reply,
      request,
      mapped,
      mapped === 'CS_ERR_BAD_JSON' ? 'the body is not valid JSON' : undefined,
    );
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return send(reply, request, 'CS_ERR_VALIDATION', error.message);
  }
  request.log.error({ err: error }, 'unexpected error');
  return send(reply, request, 'CS_ERR_INTERNAL', `correlation id ${request.id}`);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return send(
    reply,
    request,
    'CS_ERR_ROUTE_NOT_FOUND',
    `${request.method} ${request.url.split('?')[0]} is not an endpoint of this gateway`,
  );
}
