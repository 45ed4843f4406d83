/**
 * The MISSION's walkthrough asserted THROUGH THE GRAFANA DATA SOURCE (needs root): the scenario of
 * test/walkthrough.test.ts — nginx and test-pod in network namespaces on a bridge, the loopback fake
 * Kubernetes API, `tapline up` capturing on the bridge — runs as a child process
 * (test/support/walkthrough-scenario.ts; Jest cannot load those ES modules) and tells this test
 * where the hub is. Live streams are opened BEFORE it makes the traffic (the kubelet's probes, then
 * the three curls from test-pod); then every panel of the story is a real DataSource query. Only
 * Grafana's runtime is a stand-in. Expected values come only from what the scenario sent and curl
 * received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { dateTime, LoadingState, type DataFrame, type DataQueryResponse } from '@grafana/data';
import type { Subscription } from 'rxjs';
import { DataSource } from '../../src/datasource/datasource';
import type { TaplineQuery } from '../../src/datasource/types';
import { installGrafanaRuntimeStandIns, timeRange, type StandIns } from '../support/grafana-runtime-standins';
import { request, runAll, waitFor } from '../support/requests';
import { realFetch } from '../support/node-fetch';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '../../..');
const PROBE_UA = 'kube-probe/1.30';

/** The scenario's messages (one JSON line each). */
interface Ready {
  hub: string;
  testPodIp: string;
  nginxPodIp: string;
  serviceIp: string;
  nodeIp: string;
}
interface Sent {
  path: string;
  status: number;
  headers: Array<[string, string]>;
  body: string;
}
interface Traffic {
  probes: Sent[];
  sent: Sent[];
}
type Message = { ready: Ready } | { traffic: Traffic } | { error: string };

const values = (f: DataFrame, name: string) => {
  const field = f.fields.find((x) => x.name === name);
  if (!field) throw new Error(`no field ${name} in frame ${f.name}: ${f.fields.map((x) => x.name).join(', ')}`);
  return [...field.values];
};

/** The scenario process: its messages as they come, and its output for failure messages. */
class Scenario {
  readonly messages: Message[] = [];
  private stderr = '';
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;

  constructor() {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'test/support/walkthrough-scenario.ts'], {
      cwd: ROOT,
      env: { ...process.env, TAPLINE_LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.messages.push(JSON.parse(line) as Message));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Waits for the message carrying `key`; fails with the scenario's error or output if it ends or errs first. */
  async next<K extends 'ready' | 'traffic'>(key: K, ms: number): Promise<Extract<Message, Record<K, unknown>>[K]> {
    const found = () => this.messages.find((m) => key in m) as Record<K, unknown> | undefined;
    const error = () => this.messages.find((m): m is { error: string } => 'error' in m);
    await waitFor(() => !!found() || !!error() || this.child.exitCode !== null, `the scenario's "${key}"`, ms).catch((e: Error) => {
      throw new Error(`${e.message}; its stderr:\n${this.stderr}`);
    });
    const err = error();
    if (err) throw new Error(`the scenario failed: ${err.error}\n${this.stderr}`);
    const m = found();
    if (!m) throw new Error(`the scenario exited (${this.child.exitCode}) before "${key}":\n${this.stderr}`);
    return m[key] as Extract<Message, Record<K, unknown>>[K];
  }

  send(command: string): void {
    this.child.stdin!.write(`${command}\n`);
  }

  /** Closing stdin tells it to tear everything down; SIGKILL only if it hangs (it would leave namespaces). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 100_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  output(): string {
    return this.stderr;
  }
}

describe('the walkthrough through the data source', () => {
  const t0 = Date.now();
  let scenario: Scenario;
  let ready: Ready;
  let rt: StandIns;
  let ds: DataSource;
  let traffic: Traffic;
  const subs: Subscription[] = [];
  const fromTestPod: DataQueryResponse[] = [];
  const toNginx: DataQueryResponse[] = [];
  const range = () => timeRange(t0 - 60_000, Date.now() + 60_000);
  const query = async (q: Omit<TaplineQuery, 'refId'>) => {
    const [res] = await runAll(ds, request([{ refId: 'A', ...q }], { range: range(), intervalMs: 1000, maxDataPoints: 100 }));
    expect(res.errors).toBeUndefined();
    expect(res.state).toBe(LoadingState.Done);
    return res.data as DataFrame[];
  };
  const bySource = () => `src.ip == "${ready.testPodIp}"`;
  const latest = (packets: DataQueryResponse[]) => packets.at(-1)!.data[0] as DataFrame;
  const entryRows = (f: DataFrame) => values(f, 'id').map((_, i) => ({
    id: values(f, 'id')[i] as string,
    method: values(f, 'operation')[i],
    path: values(f, 'target')[i],
    status: values(f, 'status')[i],
  }));

  beforeAll(async () => {
    scenario = new Scenario();
    ready = await scenario.next('ready', 120_000);
    rt = installGrafanaRuntimeStandIns({ hubUrl: ready.hub });
    ds = new DataSource(rt.settings);
    // The live streams follow from "now", before any traffic: test-pod's requests, and all of nginx's.
    const now = Date.now();
    const live = { from: dateTime(now - 60_000), to: dateTime(now), raw: { from: 'now-1m', to: 'now' } };
    for (const [filter, sink] of [[bySource(), fromTestPod], ['dst.service == "nginx"', toNginx]] as const) {
      subs.push(ds.query(request([{ refId: 'L', queryType: 'stream', filter }], { range: live })).subscribe((p) => sink.push(p)));
    }
    await waitFor(() => fromTestPod.length > 0 && toNginx.length > 0 && rt.backend.inFlight === 2, 'both streams to be following', 20_000);
    expect(latest(fromTestPod).length).toBe(0);

    scenario.send('run-traffic');
    traffic = await scenario.next('traffic', 60_000);
    // What nginx answered, as curl saw it: the story's premise.
    expect(traffic.probes.map((p) => p.status)).toEqual([200, 200]);
    expect(traffic.sent.map((c) => [c.path, c.status])).toEqual([['/index.html', 200], ['/50x.html', 200], ['/error.html', 404]]);
    expect(traffic.sent[2].body).toMatch(/404 Not Found/);
    // Everything nginx received is in before the panels are read.
    const all = traffic.probes.length + traffic.sent.length;
    await waitFor(() => latest(toNginx).length >= all, `${all} requests to nginx on the live stream`, 30_000);
    // The stream shows entries as tapline up's writer takes them; the panels read the store, which
    // has them once the writer has nothing queued (its flush interval is 100 ms).
    let agent: { queued?: number; written?: number } = {};
    await waitFor(
      async () => {
        agent = ((await (await realFetch(`${ready.hub}/api/v1/health`)).json()) as { agent: typeof agent }).agent;
        return agent.queued === 0 && (agent.written ?? 0) >= all;
      },
      `tapline up's writer to have stored the ${all} requests`,
      10_000,
    );
  }, 240_000);

  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    const code = await scenario?.stop();
    // A scenario that cannot tear down leaves namespaces behind: that is a failure too.
    expect(code).toBe(0);
  }, 120_000);

  test('the live stream opened before the curls receives the three, newest first, as streaming', async () => {
    await waitFor(() => latest(fromTestPod).length >= 3, 'the three curls on the stream', 30_000);
    expect(fromTestPod.at(-1)!.state).toBe(LoadingState.Streaming);
    const frame = latest(fromTestPod);
    expect(entryRows(frame).map((r) => [r.method, r.path, r.status]).reverse()).toEqual(traffic.sent.map((c) => ['GET', c.path, c.status]));
    expect(values(frame, 'src.ip').every((ip) => ip === ready.testPodIp)).toBe(true);
  });

  test('entries filtered on test-pod’s IP: exactly the three requests, to the nginx Service', async () => {
    const [frame] = await query({ queryType: 'entries', filter: bySource(), limit: 100 });
    expect(frame.name).toBe('entries');
    expect(entryRows(frame).map((r) => [r.method, r.path, r.status]).reverse()).toEqual(traffic.sent.map((c) => ['GET', c.path, c.status]));
    for (const [name, want] of [['src.ip', ready.testPodIp], ['src.pod', 'test-pod'], ['src.namespace', 'default'], ['dst.ip', ready.serviceIp], ['dst.service', 'nginx'], ['dst.namespace', 'default']]) {
      expect([name, values(frame, name)]).toEqual([name, [want, want, want]]);
    }
    // The stream delivered the same three entries.
    expect(values(latest(fromTestPod), 'id')).toEqual(values(frame, 'id'));

    // "+" on the destination IP narrows the filter: still the same three.
    const [narrowed] = await query({ queryType: 'entries', filter: `${bySource()} and dst.ip == "${ready.serviceIp}"`, limit: 100 });
    expect(values(narrowed, 'id')).toEqual(values(frame, 'id'));
  });

  test('the 404 in full: nginx’s page and headers as curl received them, the request as curl sent it', async () => {
    const [list] = await query({ queryType: 'entries', filter: `${bySource()} and status == 404`, limit: 100 });
    expect(values(list, 'target')).toEqual(['/error.html']);
    const id = values(list, 'id')[0] as string;
    const [entry, headers] = await query({ queryType: 'entry', entryId: id });
    const got = traffic.sent[2];
    expect(values(entry, 'id')).toEqual([id]);
    expect(values(entry, 'status')).toEqual([got.status]);
    expect(values(entry, 'target')).toEqual([got.path]);
    expect(values(entry, 'response.body')).toEqual([got.body]);
    const rows = values(headers, 'side').map((side, i) => [side, String(values(headers, 'name')[i]).toLowerCase(), values(headers, 'value')[i]]);
    const header = (side: string, name: string) => rows.find(([s, n]) => s === side && n === name)?.[2];
    for (const [name, value] of got.headers) expect([name, header('response', name.toLowerCase())]).toEqual([name, value]);
    expect(header('request', 'host')).toBe('nginx.default');
    expect(header('request', 'user-agent')).toMatch(/^curl\//);
  });

  test('the probes came from the node with the kubelet’s user agent', async () => {
    const [frame] = await query({ queryType: 'entries', filter: `src.ip == "${ready.nodeIp}" and dst.service == "nginx"`, limit: 100 });
    expect(entryRows(frame).map((r) => [r.path, r.status]).reverse()).toEqual(traffic.probes.map((p) => [p.path, p.status]));
    const [, headers] = await query({ queryType: 'entry', entryId: values(frame, 'id')[0] as string });
    const ua = values(headers, 'name').findIndex((n, i) => values(headers, 'side')[i] === 'request' && String(n).toLowerCase() === 'user-agent');
    expect(values(headers, 'value')[ua]).toBe(PROBE_UA);
  });

  test('catalog: nginx with every request it received; failed = the 4xx and 5xx', async () => {
    const [frame] = await query({ queryType: 'catalog' });
    const statuses = [...traffic.probes, ...traffic.sent].map((r) => r.status);
    const failed = statuses.filter((s) => s >= 400).length;
    const i = values(frame, 'service').findIndex((s, j) => s === 'nginx' && values(frame, 'namespace')[j] === 'default');
    expect(i).toBeGreaterThanOrEqual(0);
    expect({ requests: values(frame, 'requests')[i], succeeded: values(frame, 'succeeded')[i], failed: values(frame, 'failed')[i] }).toEqual({
      requests: statuses.length,
      succeeded: statuses.length - failed,
      failed,
    });
  });

  test('service map: the edge test-pod → nginx with the three requests', async () => {
    const [nodes, edges] = await query({ queryType: 'serviceMap' });
    expect(values(nodes, 'id')).toEqual(expect.arrayContaining(['default/test-pod', 'default/nginx']));
    const i = values(edges, 'source').findIndex((s, j) => s === 'default/test-pod' && values(edges, 'target')[j] === 'default/nginx');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(values(edges, 'detail__requests')[i]).toBe(traffic.sent.length);
  });

  test('stats by status class: the 404 is in 4xx, the rest in 2xx', async () => {
    const frames = await query({ queryType: 'stats', metric: 'requests', groupBy: 'statusClass', filter: 'dst.service == "nginx"' });
    const total = (name: string) =>
      frames.filter((f) => f.name === name).reduce((n, f) => n + (values(f, 'requests') as number[]).reduce((a, b) => a + (b ?? 0), 0), 0);
    const statuses = [...traffic.probes, ...traffic.sent].map((r) => r.status);
    expect(total('4xx')).toBe(statuses.filter((s) => s >= 400 && s < 500).length);
    expect(total('2xx')).toBe(statuses.filter((s) => s >= 200 && s < 300).length);
    expect(total('4xx')).toBeGreaterThan(0);
  });
});
