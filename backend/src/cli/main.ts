#!/usr/bin/env node
/**
 * The `tapline` command line. Each command lives in its own module next to this one and adds
 * itself to the program through `register(program)`.
 */
import { Command } from 'commander';
import { commands } from './commands.js';

const program = new Command('tapline')
  .description("Kubernetes API traffic, captured into ClickHouse and shown in Grafana")
  .showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`tapline: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
