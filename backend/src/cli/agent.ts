/**
 * `tapline agent [-i IFACE…]`: captures live traffic into entries, to the store (or stdout with
 * --json), until SIGINT/SIGTERM; then flushes, prints the counters and exits.
 *
 * In a cluster (a kubeconfig or a service account) entries are named after pods and services, and
 * without -i the agent taps the targeted pods (-n/-A/--pod, as kubeshark) on the interfaces and
 * with the BPF filter the targets give, following them as pods come and go.
 */
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { defaultLiveOptions, type LiveOptions } from '../capture/live.js';
import { addTapTargetOptions, setupKube, tapTargetOptionsFrom, type TapChange } from '../k8s/index.js';
import { LiveAgent } from '../agent/live-agent.js';
import { addCommonOptions, byteCount, followKeyLogs, keyLogReport, pipelineOptions, positiveInt, sinkChoice, type CommonOptions } from '../agent/options.js';
import { formatCounters } from '../agent/report.js';
import { openSink } from '../agent/sinks.js';

interface AgentOptions extends CommonOptions {
  interface: string[];
  kubeconfig?: string;
  context?: string;
  filter: string;
  bufferSize: number;
  snapLength: number;
  bufferTimeout: number;
  promiscuous: boolean;
  statsInterval?: number;
}

export function registerAgent(program: Command): void {
  addTapTargetOptions(addCommonOptions(
    program
      .command('agent')
      .description(COMMAND_DESCRIPTIONS.agent)
      .option('-i, --interface <name>', "interface to capture on (repeatable; `any` for all); default in a cluster: the targeted pods' interfaces", (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--filter <bpf>', 'BPF filter (pcap-filter(7)) with -i', defaultLiveOptions.filter)
      .option('--buffer-size <bytes>', 'kernel capture buffer per interface', byteCount, defaultLiveOptions.bufferSize)
      .option('--snap-length <bytes>', 'bytes kept of each packet', byteCount, defaultLiveOptions.snapLength)
      .option('--buffer-timeout <ms>', 'how long libpcap may batch packets', positiveInt, defaultLiveOptions.bufferTimeoutMs)
      .option('--no-promiscuous', 'do not put the interfaces in promiscuous mode (on a bridge, only its own traffic is seen then)')
      .option('--stats-interval <seconds>', 'print the counters this often', positiveInt),
  )).action(async (o: AgentOptions) => {
    process.exitCode = await runAgent(o);
    // node_pcap keeps a closed handle open until the next packet arrives (NOTES.md): exit explicitly.
    process.exit();
  });
}

async function runAgent(o: AgentOptions): Promise<number> {
  const kube = await setupKube({ ...tapTargetOptionsFrom(o as unknown as Record<string, unknown>), kubeconfig: o.kubeconfig, context: o.context });
  const follow = o.interface.length === 0;
  if (follow && !kube.targets) {
    await kube.stop();
    throw new Error('say where to capture with -i IFACE (no Kubernetes cluster to take the tapped pods from)');
  }
  const live = (t?: TapChange): LiveOptions => ({
    // Targets without known host interfaces (not on a node) are captured on `any` with their filter.
    interfaces: t ? (t.bpfFilter === null ? [] : t.interfaces.length > 0 ? t.interfaces : ['any']) : o.interface,
    filter: t ? (t.bpfFilter ?? '') : o.filter,
    bufferSize: o.bufferSize,
    snapLength: o.snapLength,
    bufferTimeoutMs: o.bufferTimeout,
    promiscuous: o.promiscuous,
  });
  const describe = (l: LiveOptions) =>
    l.interfaces.length === 0 ? 'nothing (no pod targeted yet)' : `${l.interfaces.join(', ')} (filter "${l.filter}")`;
  let out;
  try {
    out = await openSink(sinkChoice(o));
  } catch (err) {
    await kube.stop();
    throw err;
  }
  const first = live(follow ? kube.targets!.state : undefined);
  followKeyLogs(o.tlsKeylog);
  const agent = new LiveAgent(first, out.sink, { ...pipelineOptions(o), enrich: (e) => kube.enricher.enrich(e) });
  try {
    agent.start();
  } catch (err) {
    await out.close();
    await kube.stop();
    throw err;
  }
  process.stderr.write(`tapline agent: capturing on ${describe(first)} into ${out.describe}\n`);
  const onChange = (t: TapChange) => {
    const next = live(t);
    try {
      agent.retarget(next);
      process.stderr.write(`tapline agent: ${t.pods.length} pods targeted: capturing on ${describe(next)}\n`);
    } catch (err) {
      process.stderr.write(`tapline agent: cannot follow the targets: ${(err as Error).message}\n`);
    }
  };
  if (follow) kube.targets!.on('change', onChange);
  const stats = o.statsInterval
    ? setInterval(() => process.stderr.write(`${formatCounters(agent.counters(), agent.captureStats())}\n${keyLogReport()}`), o.statsInterval * 1000)
    : undefined;
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  clearInterval(stats);
  kube.targets?.off('change', onChange);
  process.stderr.write(`tapline agent: ${signal}: stopping\n`);
  await agent.stop();
  await out.close();
  await kube.stop();
  process.stderr.write(`tapline agent: stopped\n${formatCounters(agent.counters(), agent.captureStats())}\n${keyLogReport()}`);
  return 0;
}
