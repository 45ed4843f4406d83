/**
 * `tapline targets`: the pods `tapline agent` would tap with the same options, and its capture
 * filter — the list `kubeshark tap` prints before it starts. `--watch` follows pods as they come
 * and go.
 */
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import {
  addTapTargetOptions,
  KubeError,
  resolveTapTargets,
  TapTargets,
  tapTargetOptionsFrom,
  type TapChange,
} from '../k8s/index.js';
import { createLogger } from '../log.js';

interface TargetsOptions {
  kubeconfig?: string;
  context?: string;
  watch?: boolean;
  json?: boolean;
  syncTimeout: number;
  [k: string]: unknown;
}

export function registerTargets(program: Command): void {
  addTapTargetOptions(program.command('targets')
      .description(COMMAND_DESCRIPTIONS.targets))
    .option('--watch', 'keep listing as pods come and go (until Ctrl-C)')
    .option('--json', 'print each state as one JSON object: {pods, bpfFilter, interfaces}')
    .option('--sync-timeout <seconds>', 'how long to wait for the API server', (v) => Number(v), 10)
    .action(async (o: TargetsOptions) => {
      process.exitCode = await runTargets(o);
      // The informers' HTTP agent may keep sockets open a while: the answer is out, so leave.
      process.exit();
    });
}

async function runTargets(o: TargetsOptions): Promise<number> {
  const log = createLogger('targets', process.env.TAPLINE_LOG_LEVEL ?? 'warn');
  // Loaded here, not at start-up: @kubernetes/client-node takes most of a second to load.
  const { contextNamespace, loadKubeConfig } = await import('../k8s/kubeconfig.js');
  const { createKubeMetadata } = await import('../k8s/metadata.js');
  const kc = loadKubeConfig({ kubeconfigPath: o.kubeconfig, context: o.context });
  if (kc === null) {
    process.stderr.write('tapline targets: no Kubernetes cluster: no kubeconfig ($KUBECONFIG, ~/.kube/config) and no in-cluster service account\n');
    return 1;
  }
  const spec = resolveTapTargets(tapTargetOptionsFrom(o), contextNamespace(kc));
  const md = createKubeMetadata({ kubeConfig: kc, log });
  const targets = new TapTargets(md, spec);
  try {
    await md.waitForSync(o.syncTimeout * 1000);
  } catch (err) {
    await md.stop();
    if (err instanceof KubeError) {
      process.stderr.write(`tapline targets: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const where = spec.namespaces === null ? 'all namespaces' : `namespace ${[...spec.namespaces].join(', ')}`;
  const print = (c: TapChange) => process.stdout.write(o.json ? `${JSON.stringify(c)}\n` : describe(c, where));
  await new Promise<void>((resolve) => {
    targets.on('change', (c) => {
      print(c);
      if (!o.watch) resolve();
    });
    if (o.watch) process.once('SIGINT', () => resolve());
  });
  targets.stop();
  await md.stop();
  return 0;
}

function describe(c: TapChange, where: string): string {
  const rows = c.pods.map((p) => `  ${`${p.namespace}/${p.name}`.padEnd(50)} ${p.ips.join(',').padEnd(18)} ${p.node}${p.hostNetwork ? ' (host network)' : ''}`);
  return [
    `Targeted pods in ${where}: ${c.pods.length}`,
    ...rows,
    `BPF filter: ${c.bpfFilter ?? '(none: nothing to capture)'}`,
    ...(c.interfaces.length > 0 ? [`Interfaces: ${c.interfaces.join(', ')}${c.promiscuous ? ' (a bridge: capture in promiscuous mode)' : ''}`] : []),
    '',
  ].join('\n');
}
