/**
 * The MISSION's walkthrough as a reusable scenario (needs root: network namespaces and libpcap).
 *
 * On one "node" (a bridge; the root namespace is the node and its kubelet): an nginx pod (Debian's
 * nginx in a netns, serving index.html and 50x.html, 404 for anything else; it also owns the
 * Service's ClusterIP, to give the pre-DNAT view without iptables — see
 * backend/test/k8s/netns-enrichment.test.ts) and a test-pod. The loopback FAKE Kubernetes API
 * lists them: nginx pod ← ReplicaSet ← Deployment `nginx`, Service `nginx` with its EndpointSlice,
 * all in `default`. `tapline up` runs as a process, capturing where it is told, named by the fake API.
 *
 * Used in-process by test/walkthrough.test.ts, and as a standalone process by the plugin's Jest test
 * (Jest cannot load these ES modules), through a line protocol on stdio:
 *   node --import tsx test/support/walkthrough-scenario.ts
 *   → stdout `{"ready":{hub,testPodIp,nginxPodIp,serviceIp,nodeIp}}` once `tapline up` captures on the bridge;
 *   ← stdin `run-traffic` → the probes then the three curls, → stdout `{"traffic":{probes,sent}}`;
 *   ← stdin closed, SIGTERM or SIGINT → everything is torn down, exit 0 (`{"error":…}` and exit 1 on failure).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, stop, tapline, type Running } from '../../backend/test/hub/processes.js';
import { FakeKubeApi, kube } from './fake-kube-api.js';
import { NetnsLab, type NetnsHost } from './netns.js';
import { waitFor } from './wait.js';

export const NODE = 'kind-worker';
export const NGINX_POD = 'nginx-7c5ddbdf54-x7k2p';
export const PROBE_UA = 'kube-probe/1.30';
export const PAGES = {
  'index.html': '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n',
  '50x.html': '<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>An error occurred.</h1></body></html>\n',
};
/** The kubelet's liveness and readiness probes, then the user's three curls. */
export const PROBE_PATHS = ['/index.html', '/50x.html'];
export const CURL_PATHS = ['/index.html', '/50x.html', '/error.html'];

export interface CurlResult {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}
export type Sent = CurlResult & { path: string };

/** What curl received: status, headers (in order) and body. `-D -` puts the head before the body. */
export function parseCurl(out: string): CurlResult {
  const split = out.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = out.slice(0, split).split('\r\n');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers: lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    body: out.slice(split + 4),
  };
}
const CURL = ['-sS', '--max-time', '10', '-D', '-'];

export class TaplineUpFailed extends Error {
  readonly code = 'TAPLINE_UP_FAILED';
}

export class Walkthrough {
  readonly subnet: string;
  readonly nodeIp: string;
  readonly clusterIp: string;
  readonly dir = mkdtempSync(join(tmpdir(), 'tapline-walkthrough-'));
  readonly lab: NetnsLab;
  readonly kubeconfig = join(this.dir, 'kubeconfig');
  nginxPod!: NetnsHost;
  testPod!: NetnsHost;
  /** The hub of the running `tapline up`. */
  base = '';
  private nginx: ChildProcess | undefined;
  private fake: FakeKubeApi | undefined;
  private up: Running | undefined;

  /** Names and addresses carry `id` (the pid by default) so that concurrent runs do not collide. */
  constructor(readonly id = process.pid) {
    this.subnet = `10.214.${(id % 250) + 1}`;
    this.nodeIp = `${this.subnet}.254`;
    this.clusterIp = `10.97.${(id % 250) + 1}.10`;
    this.lab = new NetnsLab(`tlwbr${id}`, this.nodeIp);
  }

  /** The pods on the bridge, nginx serving, and the fake API listing them. tearDown() undoes a partial setUp too. */
  async setUp(): Promise<void> {
    const { lab, id } = this;
    lab.up();
    this.nginxPod = lab.addHost(`tl-wt-nginx-${id}`, `${this.subnet}.2`, `tlwn${id}`);
    this.testPod = lab.addHost(`tl-wt-test-${id}`, `${this.subnet}.1`, `tlwt${id}`);
    // The Service as test-pod's veth sees it before kube-proxy's DNAT: nginx owns the ClusterIP.
    lab.ip('-n', this.nginxPod.ns, 'addr', 'add', `${this.clusterIp}/32`, 'dev', 'eth0');
    lab.ip('-n', this.testPod.ns, 'route', 'add', `${this.clusterIp}/32`, 'dev', 'eth0');
    lab.hostsFile(this.testPod.ns, `127.0.0.1 localhost\n${this.clusterIp} nginx.default nginx.default.svc.cluster.local\n`);
    await this.startNginx();

    this.fake = await FakeKubeApi.start();
    this.fake.seed([
      kube.node(NODE, this.nodeIp),
      kube.replicaSet('default', 'nginx-7c5ddbdf54', { kind: 'Deployment', name: 'nginx' }),
      kube.pod('default', NGINX_POD, this.nginxPod.ip, { node: NODE, owner: { kind: 'ReplicaSet', name: 'nginx-7c5ddbdf54' }, ports: [80] }),
      kube.pod('default', 'test-pod', this.testPod.ip, { node: NODE }),
      kube.service('default', 'nginx', this.clusterIp, [{ port: 80, targetPort: 80 }]),
      kube.endpointSlice('default', 'nginx-abcde', 'nginx', [this.nginxPod.ip], [80]),
    ]);
    writeFileSync(this.kubeconfig, this.fake.kubeconfigYaml('default'));
  }

  /** curl as the user types it in test-pod (nginx.default resolves to the ClusterIP there). */
  curlFromTestPod(url: string): CurlResult {
    return parseCurl(this.lab.exec(this.testPod.ns, 'curl', [...CURL, url]));
  }

  /** The kubelet's probe: from the node (the root namespace) straight to the pod's IP. */
  probe(path: string): CurlResult {
    return parseCurl(execFileSync('curl', [...CURL, '-A', PROBE_UA, `http://${this.nginxPod.ip}${path}`], { timeout: 10_000 }).toString());
  }

  probes(): Sent[] {
    return PROBE_PATHS.map((path) => ({ path, ...this.probe(path) }));
  }

  /** The three curls from test-pod, to the Service's name. */
  curls(): Sent[] {
    return CURL_PATHS.map((path) => ({ path, ...this.curlFromTestPod(`http://nginx.default${path}`) }));
  }

  /**
   * Starts `tapline up` as a process on a fresh store, named by the fake API; resolves once it
   * captures, with the interfaces it captures on and its output (for messages).
   */
  async startUp(args: string[]): Promise<{ interfaces: string[] | undefined; output: string }> {
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    const data = mkdtempSync(join(this.dir, 'data-'));
    const started = tapline(
      ['up', '--data', data, '--kubeconfig', this.kubeconfig, '-n', 'default', '--agent-name', NODE, '--listen', `127.0.0.1:${port}`, ...args],
      { KUBECONFIG: '', NODE_NAME: '' },
    );
    this.up = started;
    let agent: { running?: boolean; interfaces?: string[] } | undefined;
    await waitFor(
      'tapline up to be healthy and capturing',
      async () => {
        if (started.child.exitCode !== null) throw new TaplineUpFailed(`tapline up exited: ${started.stderr()}`);
        const res = await fetch(`${this.base}/api/v1/health`).catch(() => undefined);
        agent = res?.ok ? ((await res.json()) as { agent?: typeof agent }).agent : undefined;
        return agent?.running === true;
      },
      60_000,
      100,
    );
    // The pods were listed before it started (it waits for the first list): no change to wait for.
    return { interfaces: agent?.interfaces, output: started.stdout() };
  }

  /** Ctrl-C as a user would; resolves with tapline up's exit code and its stderr. */
  async stopUp(): Promise<{ code: number | string | null; stderr: string }> {
    const running = this.up;
    if (!running) return { code: null, stderr: '' };
    this.up = undefined;
    const exiting = stop(running);
    // node_pcap lets go of a closed handle at the next packet (NOTES.md): give it packets until it exits.
    await waitFor(
      'tapline up to exit',
      () => {
        try {
          this.probe('/index.html');
        } catch {
          // nginx may be gone already (after a failure)
        }
        return running.child.exitCode !== null || running.child.signalCode !== null;
      },
      20_000,
      200,
    );
    return { code: await exiting, stderr: running.stderr() };
  }

  /** Removes everything setUp/startUp made; never throws (it also runs after a half-built setup). */
  async tearDown(): Promise<void> {
    if (this.up) {
      const running = this.up;
      await this.stopUp().catch(() => running.child.kill('SIGKILL'));
    }
    const nginx = this.nginx;
    if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
      const gone = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGQUIT');
      const timer = setTimeout(() => nginx.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }
    await this.fake?.stop().catch(() => undefined);
    this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private startNginx(): Promise<void> {
    const root = join(this.dir, 'nginx');
    mkdirSync(join(root, 'html'), { recursive: true });
    for (const [name, text] of Object.entries(PAGES)) writeFileSync(join(root, 'html', name), text);
    const conf = join(root, 'nginx.conf');
    // Everything under the scenario's own directory: no system paths touched, one foreground process.
    writeFileSync(
      conf,
      `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${root}/nginx.pid;\nerror_log ${root}/error.log;\n` +
        `events { worker_connections 64; }\n` +
        `http {\n  access_log off;\n  default_type text/html;\n` +
        ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${root}/${t};\n`).join('') +
        `  server { listen 80; root ${root}/html; }\n}\n`,
    );
    const started = spawn('ip', ['netns', 'exec', this.nginxPod.ns, 'nginx', '-e', join(root, 'error.log'), '-p', root, '-c', conf], { stdio: 'ignore' });
    this.nginx = started;
    return waitFor(
      'nginx to serve index.html',
      () => {
        if (started.exitCode !== null) throw new Error(`nginx exited (${started.exitCode}): ${readFileSync(join(root, 'error.log'), 'utf8')}`);
        try {
          return parseCurl(this.lab.exec(this.nginxPod.ns, 'curl', [...CURL, 'http://127.0.0.1/index.html'])).status === 200;
        } catch {
          return false;
        }
      },
      15_000,
      100,
    );
  }
}

/** What the standalone process prints once ready. */
export interface ScenarioReady {
  hub: string;
  testPodIp: string;
  nginxPodIp: string;
  serviceIp: string;
  nodeIp: string;
}

/** The standalone process: set up, capture on the bridge, serve `run-traffic`, tear down at the end. */
async function main(): Promise<void> {
  const say = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`);
  const wt = new Walkthrough();
  const setup = (async () => {
    await wt.setUp();
    const { interfaces, output } = await wt.startUp(['-i', wt.lab.bridge]);
    if (JSON.stringify(interfaces) !== JSON.stringify([wt.lab.bridge])) {
      throw new TaplineUpFailed(`tapline up captures on ${JSON.stringify(interfaces)}, not the bridge ${wt.lab.bridge}: ${output}`);
    }
  })();
  let ending: Promise<void> | undefined;
  // Tear down only once the setup has settled, so that nothing it is still making is left behind.
  const end = (code: number) =>
    (ending ??= setup
      .catch(() => undefined)
      .then(() => wt.tearDown())
      .then(() => {
        process.exitCode = code;
        process.stdin.destroy();
      }));
  const fail = (err: unknown) => {
    say({ error: err instanceof Error ? err.message : String(err) });
    return end(1);
  };
  // "ready" is said before any command's answer: commands wait for it.
  const announced = setup.then(
    () => {
      if (!ending) say({ ready: { hub: wt.base, testPodIp: wt.testPod.ip, nginxPodIp: wt.nginxPod.ip, serviceIp: wt.clusterIp, nodeIp: wt.nodeIp } satisfies ScenarioReady });
      return true;
    },
    async (err: unknown) => {
      await fail(err);
      return false;
    },
  );
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void end(0));
  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => void end(0)); // the parent went away: clean up all the same
  lines.on('line', (line) => {
    void announced.then((ok) => {
      if (!ok || ending) return;
      if (line.trim() !== 'run-traffic') return void fail(new Error(`unknown command ${JSON.stringify(line)} (expected "run-traffic")`));
      try {
        say({ traffic: { probes: wt.probes(), sent: wt.curls() } });
      } catch (err) {
        void fail(err);
      }
    });
  });
  await announced;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main();
