#!/usr/bin/env node
import { CommanderError } from 'commander';
import { exit, report } from './output.js';
import { buildProgram } from './program.js';

// `countersign … | head` closes the pipe early: stop quietly, as other command-line tools do,
// instead of dying on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? exit.ok : exit.usage;
      return;
    }
    process.exitCode = report(error);
  }
}

await main(process.argv);
