import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerImport } from './import.js';
import { registerSeed } from './seed.js';

/** Every command of the CLI, one module each. Keep the list in the order `tapline --help` shows. */
export const commands: Array<(program: Command) => void> = [registerAgent, registerImport, registerSeed];
