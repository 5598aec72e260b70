#!/usr/bin/env node
import { CommanderError } from 'commander';
import { exit, printFailure, report } from './output.js';
import { buildProgram } from './program.js';

// `countersign … | head` closes the pipe early: stop quietly, as other command-line tools do,
// instead of dying on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

/**
 * Read from argv rather than from the parsed options: a flag commander refused may come before
 * `--json`, which it then never parses, and the script still expects JSON.
 */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

async function main(argv: string[]): Promise<void> {
  const json = wantsJson(argv);
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (!(error instanceof CommanderError)) {
      process.exitCode = report(error, { json });
      return;
    }
    // Commander has printed its message (and the help) on stderr; --help and --version exit 0.
    process.exitCode = error.exitCode === 0 ? exit.ok : exit.usage;
    if (json && error.exitCode !== 0)
      printFailure({ code: 'usage', message: error.message.replace(/^error: /, '') });
  }
}

await main(process.argv);
