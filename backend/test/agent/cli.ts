/**
 * Test support: `tapline agent` and `tapline import` as their own process, through the same
 * command modules and commander setup as bin/tapline.js, without loading every other command
 * (the full CLI imports all command modules at start, which takes seconds on a busy machine).
 */
import { Command } from 'commander';
import { registerAgent } from '../../src/cli/agent.js';
import { registerImport } from '../../src/cli/import.js';

const program = new Command('tapline').showHelpAfterError();
registerAgent(program);
registerImport(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`tapline: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
