#!/usr/bin/env node
import { CommanderError } from 'commander';
import { exit, report } from './output.js';
import { buildProgram } from './program.js';

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
