/**
 * `tapline agent -i IFACE [-i IFACE…]`: captures live traffic into entries, to the store (or stdout
 * with --json), until SIGINT/SIGTERM; then flushes, prints the counters and exits.
 */
import type { Command } from 'commander';
import { defaultLiveOptions } from '../capture/live.js';
import { LiveAgent } from '../agent/live-agent.js';
import { addCommonOptions, byteCount, pipelineOptions, positiveInt, sinkChoice, type CommonOptions } from '../agent/options.js';
import { formatCounters } from '../agent/report.js';
import { openSink } from '../agent/sinks.js';

interface AgentOptions extends CommonOptions {
  interface: string[];
  filter: string;
  bufferSize: number;
  snapLength: number;
  bufferTimeout: number;
  promiscuous: boolean;
  statsInterval?: number;
}

export function registerAgent(program: Command): void {
  addCommonOptions(
    program
      .command('agent')
      .description('capture live traffic on network interfaces into entries')
      .requiredOption('-i, --interface <name>', 'interface to capture on (repeatable; `any` for all)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--filter <bpf>', 'BPF filter (pcap-filter(7))', defaultLiveOptions.filter)
      .option('--buffer-size <bytes>', 'kernel capture buffer per interface', byteCount, defaultLiveOptions.bufferSize)
      .option('--snap-length <bytes>', 'bytes kept of each packet', byteCount, defaultLiveOptions.snapLength)
      .option('--buffer-timeout <ms>', 'how long libpcap may batch packets', positiveInt, defaultLiveOptions.bufferTimeoutMs)
      .option('--no-promiscuous', 'do not put the interfaces in promiscuous mode (on a bridge, only its own traffic is seen then)')
      .option('--stats-interval <seconds>', 'print the counters this often', positiveInt),
  ).action(async (o: AgentOptions) => {
    process.exitCode = await runAgent(o);
    // node_pcap keeps a closed handle open until the next packet arrives (NOTES.md): exit explicitly.
    process.exit();
  });
}

async function runAgent(o: AgentOptions): Promise<number> {
  const out = await openSink(sinkChoice(o));
  const agent = new LiveAgent(
    {
      interfaces: o.interface,
      filter: o.filter,
      bufferSize: o.bufferSize,
      snapLength: o.snapLength,
      bufferTimeoutMs: o.bufferTimeout,
      promiscuous: o.promiscuous,
    },
    out.sink,
    pipelineOptions(o),
  );
  try {
    agent.start();
  } catch (err) {
    await out.close();
    throw err;
  }
  process.stderr.write(`tapline agent: capturing on ${o.interface.join(', ')} (filter "${o.filter}") into ${out.describe}\n`);
  const stats = o.statsInterval
    ? setInterval(() => process.stderr.write(`${formatCounters(agent.counters(), agent.captureStats())}\n`), o.statsInterval * 1000)
    : undefined;
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  clearInterval(stats);
  process.stderr.write(`tapline agent: ${signal}: stopping\n`);
  await agent.stop();
  await out.close();
  process.stderr.write(`tapline agent: stopped\n${formatCounters(agent.counters(), agent.captureStats())}\n`);
  return 0;
}
