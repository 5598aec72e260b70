import { Command } from 'commander';
import { version } from '../server/gateway.js';
import { adminCommands } from './commands/admin.js';
import { agentCommands } from './commands/agent.js';
import { auditCommands } from './commands/audit.js';
import { initCommand } from './commands/init.js';
import { loginCommand } from './commands/login.js';
import { mcpCommand } from './commands/mcp.js';
import { policyCommands } from './commands/policy.js';
import { reviewCommands } from './commands/review.js';
import { serveCommand } from './commands/serve.js';
import { witnessCommand } from './commands/witness.js';

export function buildProgram(): Command {
  const program = new Command('countersign')
    .description(
      'Approvals gateway for AI agents: policy per command, human review, tamper-evident audit log.',
    )
    .version(version)
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failure, 2 bad usage or configuration, 3 action refused, 4 still pending, 5 refused or not found by the gateway or the store.\nDocs: docs/cli.md',
    );
  serveCommand(program);
  initCommand(program);
  agentCommands(program);
  reviewCommands(program);
  adminCommands(program);
  auditCommands(program);
  witnessCommand(program);
  mcpCommand(program);
  loginCommand(program);
  policyCommands(program);
  return program;
}
