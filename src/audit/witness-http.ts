import { createServer, type Server } from 'node:http';
import type { Witness } from './witness.js';

const MAX_BODY = 64 * 1024;

/** Serves a witness over HTTP: `POST <prefix>/add-checkpoint` as C2SP tlog-witness defines it. */
export function witnessServer(witness: Witness, prefix = ''): Server {
  return createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== `${prefix}/add-checkpoint`) {
      res.writeHead(req.url === `${prefix}/add-checkpoint` ? 405 : 404, { 'content-type': 'text/plain' });
      res.end('POST /add-checkpoint only\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'text/plain' });
        res.end('request too large\n');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      witness
        .addCheckpoint(Buffer.concat(chunks).toString('utf8'))
        .then((r) => {
          res.writeHead(r.status, { 'content-type': r.contentType });
          res.end(r.body);
        })
        .catch(() => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        });
    });
  });
}
