// Child process for bench/mcp.ts: the floor for any HTTP gateway in Node. It relays each request
// to the upstream and pipes the answer back, and does nothing else: no MCP parsing, policy, store
// or audit. Its row shows what the extra hop alone costs on this machine, so the gateway's row can
// be read as "hop + Countersign's own work".
import http from 'node:http';

const upstream = new URL(process.argv[2] ?? '');
const agent = new http.Agent({ keepAlive: true, noDelay: true });

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const { authorization: _, ...headers } = req.headers;
    const out = http.request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: upstream.pathname,
        method: req.method,
        headers: { ...headers, host: upstream.host, 'content-length': String(body.length) },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    out.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
