import type { Command } from 'commander';
import { runStdioBridge } from '../../gateways/mcp/bridge.js';
import { UsageError } from '../output.js';

/**
 * `countersign mcp --server NAME`: what an agent launches in place of an MCP server. It speaks MCP
 * on stdin/stdout and relays to the gateway's /mcp/NAME with the agent's key; the real server runs
 * beside the gateway, with credentials the agent never sees.
 */
export function mcpCommand(program: Command): void {
  program
    .command('mcp')
    .description(
      'run as a stdio MCP server that relays to the gateway at /mcp/NAME (launch this from your agent)',
    )
    .requiredOption('--server <name>', 'the upstream name under mcp.upstreams in the gateway configuration')
    .option('--url <url>', 'gateway URL (env COUNTERSIGN_URL, default http://127.0.0.1:8080)')
    .option('--token <token>', 'agent key (env COUNTERSIGN_TOKEN; prefer the env variable)')
    .addHelpText(
      'after',
      '\nStdout carries MCP messages only; problems are reported on stderr. Docs: docs/mcp.md',
    )
    .action(async (opts: { server: string; url?: string; token?: string }) => {
      const token = opts.token ?? process.env.COUNTERSIGN_TOKEN;
      if (!token)
        throw new UsageError('no agent key: set COUNTERSIGN_TOKEN (or pass --token) to an agent key');
      const url = opts.url ?? process.env.COUNTERSIGN_URL ?? 'http://127.0.0.1:8080';
      const { closed } = await runStdioBridge({
        url,
        token,
        server: opts.server,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      await closed;
    });
}
