/**
 * `tapline up`: everything in one process — the embedded store, the capture agent (libpcap on the
 * given interfaces, loopback by default) writing into it, and the hub serving it. Entries reach the
 * live stream as the writer accepts them, before they are in the store (hub/live.ts, HandOffFeed).
 *
 * With a kubeconfig (or in a pod) entries are named after pods and services, as `tapline agent`
 * names them. Without -i, on a node of the cluster (--node-name or $NODE_NAME) it taps the targeted
 * pods (-n/-A/--pod) as the agent does, following them; elsewhere, e.g. on a laptop whose cluster
 * runs in containers, it taps loopback. The store keeps what the retention options allow, and says
 * so at start.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { LiveAgent } from '../agent/live-agent.js';
import { followKeyLogs, tlsKeyLogOption } from '../agent/options.js';
import { processKeyLog } from '../protocols/tls/keylog.js';
import { addTapTargetOptions, setupKube, tapTargetOptionsFrom, type TapChange } from '../k8s/index.js';
import { defaultLiveOptions, type LiveOptions } from '../capture/live.js';
import { CaptureError } from '../capture/errors.js';
import { createHub } from '../hub/server.js';
import { createLogger } from '../log.js';
import { DEFAULT_DATA_DIR, EntryWriter, migrate, openStore } from '../store/index.js';
import { addHubOptions, hubSettings, onSignal, useProtoOption, type HubCliOptions } from './hub.js';
import { addRetentionOptions, describeRetention, startRetention, type RetentionCliOptions } from './retention.js';

interface UpOptions extends HubCliOptions, RetentionCliOptions {
  data: string;
  interface: string[];
  bpf: string;
  capture: boolean;
  agentName: string;
  kubeconfig?: string;
  context?: string;
  tlsKeylog: string[];
}

const collect = (v: string, acc: string[] | undefined) => [...(acc ?? []), v];

export function registerUp(program: Command): void {
  addTapTargetOptions(addRetentionOptions(addHubOptions(
    program
      .command('up')
      .description(COMMAND_DESCRIPTIONS.up)
      // npm runs scripts in the workspace folder; INIT_CWD is where `npm start` was typed.
      .option('--data <dir>', 'embedded store directory', join(process.env.INIT_CWD ?? '.', DEFAULT_DATA_DIR))
      .option('-i, --interface <name>', 'capture on this interface (repeatable); default: on a cluster node (--node-name), the targeted pods\' interfaces, else lo', collect)
      .option('--bpf <filter>', 'capture filter (pcap-filter); the hub\'s own port is always left out', 'tcp or udp')
      .option('--no-capture', 'store and hub only (no packet capture)')
      .option('--agent-name <name>', 'name written into every entry', hostname())
      .option(...tlsKeyLogOption),
  ))).action(async (o: UpOptions) => {
    const log = createLogger('up');
    useProtoOption(o);
    const store = openStore({ kind: 'embedded', dataDir: o.data });
    await migrate(store, { logger: log });
    console.log(describeRetention(o));
    const retention = await startRetention(store, o, log);
    const targeting = tapTargetOptionsFrom(o as unknown as Record<string, unknown>);
    const kube = o.capture ? await setupKube({ ...targeting, kubeconfig: o.kubeconfig, context: o.context }) : undefined;
    const targets = !o.interface?.length && targeting.nodeName ? (kube?.targets ?? null) : null;
    const own = `not (tcp port ${o.listen.port})`;
    const live = (t?: TapChange): LiveOptions =>
      t
        ? // As `tapline agent`: nothing while no pod is targeted; `any` when their interfaces are unknown.
          { ...defaultLiveOptions, interfaces: t.bpfFilter === null ? [] : t.interfaces.length > 0 ? t.interfaces : ['any'],
            filter: `(${o.bpf}) and (${t.bpfFilter}) and ${own}`, promiscuous: t.promiscuous }
        : { ...defaultLiveOptions, interfaces: o.interface?.length ? o.interface : ['lo'], filter: `(${o.bpf}) and ${own}` };
    let capturing = live(targets?.state);
    followKeyLogs(o.tlsKeylog);
    const describe = () => (capturing.interfaces.length ? capturing.interfaces.join(', ') : 'nothing yet (no pod targeted)');
    const writer = await EntryWriter.create(store, { flushIntervalMs: 100, logger: log });
    const onTargets = (t: TapChange) => {
      try {
        agent?.retarget(live(t));
        capturing = live(t);
        console.log(`tapline up: ${t.pods.length} pods targeted: capturing on ${describe()}`);
      } catch (err) {
        log.error({ err }, `cannot follow the targeted pods: ${(err as Error).message}`);
      }
    };

    const hub = await createHub({
      store,
      ...hubSettings(o),
      handOff: { unstored: () => writer.queued + writer.spoolState.entries },
      logger: log,
      ingestCounters: () => ({ ingested: writer.counters.written, dropped: writer.counters.dropped }),
      agentStatus: () => {
        const c = agent?.counters();
        const pcapDrops = agent?.captureStats().reduce((s, i) => s + i.dropped + i.ifDropped, 0) ?? 0;
        return {
          running: agent !== undefined,
          interfaces: agent ? capturing.interfaces : [],
          packets: c?.packets ?? 0,
          entries: c?.entries ?? 0,
          drops: (c?.sinkDrops ?? 0) + pcapDrops + writer.counters.dropped,
          written: writer.counters.written,
          queued: writer.queued,
          // Paths and counts only: the secrets never leave the key log reader.
          tlsKeyLogs: processKeyLog.status(),
        };
      },
    });
    const sink = (hub.handOff as NonNullable<typeof hub.handOff>).sinkFor(writer);
    const agent = o.capture
      ? new LiveAgent(capturing, sink, { agentName: o.agentName, enrich: kube && ((e) => kube.enricher.enrich(e)) })
      : undefined;
    try {
      agent?.start();
    } catch (err) {
      await hub.close();
      await writer.close();
      await kube?.stop();
      await retention.stop();
      await store.close();
      if (err instanceof CaptureError) throw new Error(`${err.message} (capturing needs root or CAP_NET_RAW; --no-capture runs the store and hub alone)`);
      throw err;
    }
    targets?.on('change', onTargets);
    // Wake live clients as soon as the writer's insert is in (rather than at the next poll).
    let written = 0;
    const poker = setInterval(() => {
      if (writer.counters.written !== written) {
        written = writer.counters.written;
        hub.live.poke();
      }
    }, 20);

    const url = await hub.listen();
    console.log(
      `tapline up: ${agent ? `capturing on ${describe()}` : 'not capturing'}, store in ${o.data}, ` +
        `API on ${url}/api/v1 (try: curl '${url}/api/v1/entries?limit=5')`,
    );
    await onSignal(async () => {
      clearInterval(poker);
      targets?.off('change', onTargets);
      await agent?.stop();
      await kube?.stop();
      await writer.close();
      await hub.close();
      await retention.stop();
      await store.close();
    });
  });
}
