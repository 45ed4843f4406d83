import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerHub } from './hub.js';
import { registerImport } from './import.js';
import { registerQuery } from './query.js';
import { registerSeed } from './seed.js';
import { registerTargets } from './targets.js';
import { registerUp } from './up.js';

/** Every command of the CLI, one module each. Keep the list in the order `tapline --help` shows. */
export const commands: Array<(program: Command) => void> = [registerUp, registerHub, registerQuery, registerAgent, registerTargets, registerImport, registerSeed];
