/**
 * Every command of the CLI: its name and description here, its options and action in its own
 * module, loaded only when that command runs (or its help is asked for). `tapline --help` loads
 * none: the hub, the store and the capture modules take most of a second to load.
 */
import type { Command } from 'commander';

export const COMMAND_DESCRIPTIONS = {
  up: 'store + capture + hub in one process: tap loopback (or -i IFACE) and serve the API on 127.0.0.1:8787',
  hub: 'serve the hub API (docs/api.md) over a store: --store DIR|URL',
  query: 'print entries matching a filter (docs/filter-language.md), newest first',
  agent: 'capture live traffic on network interfaces into entries',
  targets: 'list the pods the agent would tap (-n/-A/--pod, as kubeshark tap) and its capture filter',
  import: 'dissect a .pcap or .pcapng capture file into entries',
  seed: "fill the store with realistic synthetic entries (several namespaces and services, 404s, 5xx bursts, the pods' DNS lookups)",
} as const;

export type CommandName = keyof typeof COMMAND_DESCRIPTIONS;

/** In the order `tapline --help` lists them. */
export const COMMANDS: ReadonlyArray<{ name: CommandName; load: () => Promise<(program: Command) => void> }> = [
  { name: 'up', load: async () => (await import('./up.js')).registerUp },
  { name: 'hub', load: async () => (await import('./hub.js')).registerHub },
  { name: 'query', load: async () => (await import('./query.js')).registerQuery },
  { name: 'agent', load: async () => (await import('./agent.js')).registerAgent },
  { name: 'targets', load: async () => (await import('./targets.js')).registerTargets },
  { name: 'import', load: async () => (await import('./import.js')).registerImport },
  { name: 'seed', load: async () => (await import('./seed.js')).registerSeed },
];
