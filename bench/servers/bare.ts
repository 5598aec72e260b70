// The anchor: the same HTTP framework, same JSON body parsing, one route that does nothing.
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 262_144 });
app.post('/v1/actions', async (request, reply) =>
  reply.code(201).send({ id: 'x', status: 'allowed', echo: typeof request.body }),
);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`READY ${url} none\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
