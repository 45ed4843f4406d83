#!/usr/bin/env node
/**
 * The `tapline` command line. Each command lives in its own module next to this one and adds
 * itself to the program through `register(program)`; only the command that runs is loaded
 * (command-list.ts), the others are listed by name and description for `tapline --help`.
 */
import { Command } from 'commander';
import { COMMAND_DESCRIPTIONS, COMMANDS } from './command-list.js';

const program = new Command('tapline')
  .description("Kubernetes API traffic, captured into ClickHouse and shown in Grafana")
  .showHelpAfterError();

/** The command the arguments name (`tapline import f`, `tapline help import`), if any. */
function commandOf(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

const wanted = commandOf(process.argv.slice(2));
for (const c of COMMANDS) {
  if (c.name === wanted) (await c.load())(program);
  else program.command(c.name).description(COMMAND_DESCRIPTIONS[c.name]);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`tapline: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
