import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditLogStore } from '../../audit/log.js';
import { consistencyProof, inclusionProof, leafHash } from '../../audit/merkle.js';
import { TileNodeReader } from '../../audit/tiles.js';
import { CountersignError } from '../../core/errors.js';
import type { authHooks } from '../auth.js';
import { Problem } from '../schemas.js';

export interface AuditRoutesOptions {
  log: AuditLogStore;
  verifierKey: string;
  auth: ReturnType<typeof authHooks>;
}

const B64 = Type.String({ description: 'base64 SHA-256 hash' });
const Size = Type.Integer({ minimum: 0, description: 'tree size; defaults to the latest checkpoint' });
const errors = { 400: Problem, 401: Problem, 403: Problem, 503: Problem };

const invalid = (detail: string) => new CountersignError('CS_ERR_VALIDATION', detail);

/**
 * Read side of the audit log. Checkpoints and proofs hold only hashes and are public, so anyone
 * (a witness, an auditor's monitor) can check the log; entries hold action details and need a
 * reviewer token.
 */
export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (
  app,
  { log, verifierKey, auth },
) => {
  const reader = new TileNodeReader(log);
  const latest = async () => {
    const cp = await log.latestCheckpoint();
    if (!cp) throw new CountersignError('CS_ERR_UNAVAILABLE', 'the audit log has no signed checkpoint yet');
    return cp;
  };

  app.get(
    '/v1/audit/key',
    {
      schema: {
        tags: ['audit'],
        summary: "The log's verifier key (compare it with the one the operator gave you out of band)",
        response: { 200: Type.Object({ verifierKey: Type.String() }) },
      },
    },
    async () => ({ verifierKey }),
  );

  app.get(
    '/v1/audit/checkpoint',
    {
      schema: {
        tags: ['audit'],
        summary: 'Latest signed checkpoint (C2SP tlog-checkpoint signed note, text/plain)',
        produces: ['text/plain'],
        response: { 200: Type.String(), 503: Problem },
      },
    },
    async (_request, reply) => {
      reply.type('text/plain; charset=utf-8');
      return (await latest()).note;
    },
  );

  app.get(
    '/v1/audit/entries',
    {
      onRequest: auth.reviewer,
      schema: {
        tags: ['audit'],
        summary: 'Entries by index range (reviewer)',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          start: Type.Integer({ minimum: 0, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                index: Type.Integer(),
                leafHash: B64,
                entry: Type.String({ description: 'RFC 8785 JSON, the exact bytes that are hashed' }),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const rows = await log.readEntries(request.query.start, request.query.limit);
      return { items: rows.map((r) => ({ ...r, leafHash: leafHash(r.entry).toString('base64') })) };
    },
  );

  app.get(
    '/v1/audit/proof/inclusion',
    {
      schema: {
        tags: ['audit'],
        summary: 'Inclusion proof (RFC 9162) of an entry in the tree of a given size',
        querystring: Type.Object({ index: Type.Integer({ minimum: 0 }), size: Type.Optional(Size) }),
        response: {
          200: Type.Object({
            index: Type.Integer(),
            size: Type.Integer(),
            proof: Type.Array(B64),
            checkpoint: Type.String(),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const cp = await latest();
      const size = request.query.size ?? cp.size;
      const { index } = request.query;
      if (size > cp.size) throw invalid(`size ${size} is beyond the latest checkpoint (${cp.size})`);
      if (index >= size) throw invalid(`index ${index} is not in a tree of size ${size}`);
      const proof = await inclusionProof(reader, index, size);
      return { index, size, proof: proof.map((h) => h.toString('base64')), checkpoint: cp.note };
    },
  );

  app.get(
    '/v1/audit/proof/consistency',
    {
      schema: {
        tags: ['audit'],
        summary: 'Consistency proof (RFC 9162) between two tree sizes',
        querystring: Type.Object({ from: Type.Integer({ minimum: 0 }), to: Type.Optional(Size) }),
        response: {
          200: Type.Object({ from: Type.Integer(), to: Type.Integer(), proof: Type.Array(B64) }),
          ...errors,
        },
      },
    },
    async (request) => {
      const cp = await latest();
      const to = request.query.to ?? cp.size;
      const { from } = request.query;
      if (to > cp.size) throw invalid(`size ${to} is beyond the latest checkpoint (${cp.size})`);
      if (from > to) throw invalid(`from (${from}) must not exceed to (${to})`);
      const proof = await consistencyProof(reader, from, to);
      return { from, to, proof: proof.map((h) => h.toString('base64')) };
    },
  );
};
