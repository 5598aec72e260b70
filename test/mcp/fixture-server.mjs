#!/usr/bin/env node
// A small MCP server for the gateway tests, written with the SDK's McpServer. It records every
// tool call it receives, so tests can check exactly what reached the upstream.
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const log = process.env.FIXTURE_LOG;
const seen = [];

function record(name, args) {
  seen.push({ name, args });
  if (log) appendFileSync(log, `${JSON.stringify({ name, args, pid: process.pid })}\n`);
}

const text = (t) => ({ content: [{ type: 'text', text: t }] });

/** One McpServer per connection: a server speaks to exactly one transport. */
function build() {
  const server = new McpServer({ name: 'fixture', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes the arguments it received', inputSchema: { text: z.string() } },
    async (args) => {
      record('echo', args);
      return text(JSON.stringify(args));
    },
  );
  server.registerTool(
    'delete_file',
    { description: 'Deletes a file (pretend)', inputSchema: { path: z.string() } },
    async (args) => {
      record('delete_file', args);
      return text(`deleted ${args.path}`);
    },
  );
  server.registerTool(
    'drop_database',
    { description: 'Drops a database (pretend)', inputSchema: { name: z.string() } },
    async (args) => {
      record('drop_database', args);
      return text(`dropped ${args.name}`);
    },
  );
  server.registerTool('secret', { description: 'Shows the secret the gateway passed in' }, async () => {
    record('secret', {});
    return text(`secret is ${process.env.FIXTURE_SECRET ?? '(none)'}; parent pid ${process.ppid}`);
  });
  server.registerTool('crash', { description: 'Exits the process mid-call' }, async () => {
    record('crash', {});
    process.exit(3);
  });
  server.registerTool('hang', { description: 'Never answers' }, async () => {
    record('hang', {});
    return new Promise(() => {});
  });
  server.registerTool('pid', { description: 'The server process id' }, async () => text(String(process.pid)));
  server.registerTool('add_tool', { description: 'Adds a tool, so the list changes' }, async () => {
    server.registerTool('late', { description: 'Added later' }, async () => text('late'));
    return text('added');
  });
  server.registerResource(
    'note',
    new ResourceTemplate('note://{id}', { list: undefined }),
    { description: 'A note' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `note ${id}` }] }),
  );
  server.registerPrompt('greet', { argsSchema: { who: z.string() } }, ({ who }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello ${who}` } }],
  }));
  return server;
}

// `--http` serves Streamable HTTP on 127.0.0.1 (port printed on stdout), for the benchmark.
if (process.argv.includes('--http')) {
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const id = req.headers['mcp-session-id'];
    let transport = id ? sessions.get(id) : undefined;
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      await build().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  });
  http.listen(0, '127.0.0.1', () => process.stdout.write(`${http.address().port}\n`));
} else {
  await build().connect(new StdioServerTransport());
}
