import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';

/**
 * Answers a request and returns true, or returns false (having touched nothing) to leave it to
 * Fastify's router.
 */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

interface FrontRoute {
  prefix: string;
  /** The `route` label of the request metrics. */
  route: string;
  handle: FrontHandler;
}

/** What Fastify passes to a server factory: the timeouts it would have set on its own server. */
interface ServerTimeouts {
  keepAliveTimeout?: number;
  requestTimeout?: number;
  connectionTimeout?: number;
}

/**
 * Handlers served ahead of Fastify's router, by path prefix: for a path that is taken thousands
 * of times a second and needs none of Fastify's routing, hooks, parsers or reply objects (the MCP
 * endpoints, decision 0013). Every other request goes to Fastify unchanged. Front requests are
 * counted in the same request metrics as Fastify's.
 */
export class FrontRoutes {
  private readonly routes: FrontRoute[] = [];

  constructor(private readonly metrics: Metrics) {}

  add(prefix: string, route: string, handle: FrontHandler): void {
    this.routes.push({ prefix, route, handle });
  }

  /** Fastify's `serverFactory`: the server Fastify would build, with the front ahead of it. */
  server(fastify: (req: IncomingMessage, res: ServerResponse) => void, options: ServerTimeouts): Server {
    const server = createServer((req, res) => {
      if (!this.dispatch(req, res)) fastify(req, res);
    });
    // As Fastify sets them on a server of its own (lib/server.js).
    server.keepAliveTimeout = options.keepAliveTimeout ?? 72_000;
    server.requestTimeout = options.requestTimeout ?? 0;
    server.setTimeout(options.connectionTimeout ?? 0);
    return server;
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    for (const r of this.routes) {
      if (!url.startsWith(r.prefix)) continue;
      const started = performance.now();
      // Listening first: a handler may answer before it returns (a 405).
      const observe = () =>
        this.metrics.http.observe(
          { method: req.method ?? '', route: r.route, status: res.statusCode },
          (performance.now() - started) / 1000,
        );
      res.once('finish', observe);
      if (r.handle(req, res)) return true;
      res.off('finish', observe);
      return false;
    }
    return false;
  }
}
