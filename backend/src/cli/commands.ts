import type { Command } from 'commander';

/** Every command of the CLI, one module each. Keep the list in the order `tapline --help` shows. */
export const commands: Array<(program: Command) => void> = [];
