import { relative } from 'node:path';
import type { Command } from 'commander';
import { createGateway, type Gateway } from '../../server/gateway.js';
import { resolveConfig } from '../context.js';
import { integerIn } from '../output.js';

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith('..') ? path : `./${r}`;
}

function banner(gw: Gateway, url: string, config: ReturnType<typeof resolveConfig>): string {
  const policy = gw.policy();
  const lines = [
    `Countersign gateway listening on ${url}`,
    `  store    ${shown(config.store.path)}`,
    `  policy   ${policy.sources.map(shown).join(', ')} (version ${policy.version.slice(0, 12)})`,
    `  api      ${url}/v1/openapi.json`,
    `  audit    ${gw.checkpointer.signer.verifierKey}`,
  ];
  if (gw.dev) {
    lines.push(
      '',
      '  DEVELOPMENT MODE: demo identities below are for trying Countersign out, never for production.',
      '  Run `countersign init` and `countersign serve --config countersign.yaml` for a real setup.',
      '',
      `  demo agent    demo-agent, on behalf of dana@example.com`,
      `    export COUNTERSIGN_TOKEN=${gw.dev.agent}`,
      '  demo reviewers',
    );
    for (const r of gw.directory.list()) {
      const token = gw.dev.reviewers[r.id];
      if (token) lines.push(`    ${r.email.padEnd(18)} [${r.groups.join(', ')}]`, `      ${token}`);
    }
  }
  return lines.join('\n');
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run the gateway (embedded defaults and dev mode when no configuration is given)')
    .option('-c, --config <file>', 'configuration file (default ./countersign.yaml if present)')
    .option('--host <host>', 'listen address (overrides server.host)')
    .option('--port <port>', 'listen port (overrides server.port)', integerIn(0, 65_535))
    .action(async (opts: { config?: string; host?: string; port?: number }) => {
      const config = resolveConfig(opts, { serving: true });
      if (opts.host) config.server.host = opts.host;
      if (opts.port !== undefined) config.server.port = opts.port;
      const gw = await createGateway(config);
      const url = await gw.app.listen({ host: config.server.host, port: config.server.port });
      process.stdout.write(`${banner(gw, url, config)}\n`);
      let closing = false;
      const stop = async (signal: string) => {
        if (closing) return;
        closing = true;
        gw.app.log.info({ signal }, 'shutting down');
        await gw.close();
        process.exit(0);
      };
      // SIGHUP re-reads the policy files; an invalid policy is logged and the running one stays.
      process.on('SIGHUP', () => void gw.reloadPolicy('sighup'));
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
