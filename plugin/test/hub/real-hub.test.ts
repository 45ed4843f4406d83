/**
 * The DataSource against a REAL hub: `tapline seed` fills an embedded store, `tapline hub` serves
 * it on loopback with a token; and `tapline up` captures real HTTP requests on loopback for the
 * live stream. Only Grafana's runtime is a stand-in (its proxy applies the plugin's own route).
 * Expected values come from the hub's own answers fetched directly, never from the plugin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dateTime, LoadingState, type DataFrame, type DataQueryResponse } from '@grafana/data';
import type { Subscription } from 'rxjs';
import { DataSource } from '../../src/datasource/datasource';
import type { EntriesResponse } from '../../src/datasource/types';
import { installGrafanaRuntimeStandIns, realFetch as nodeFetch, timeRange, type StandIns } from '../support/grafana-runtime-standins';
import { request, runAll, waitFor } from '../support/requests';
import { freePort, stopProcess, tapline, taplineRun, waitHealthy, type TaplineProcess } from '../support/tapline-process';

jest.setTimeout(60_000);

const TOKEN = 'plugin-e2e-token';
const values = (f: DataFrame, name: string) => [...(f.fields.find((x) => x.name === name)?.values ?? [])];

describe('over `tapline hub` on a seeded store', () => {
  let dir: string;
  let hub: TaplineProcess | undefined;
  let base: string;
  let rt: StandIns;
  let ds: DataSource;
  const now = Date.now();
  const range = timeRange(now - 2 * 3_600_000, now + 60_000);
  const direct = async <T>(path: string, params: Record<string, string>) =>
    (await (await nodeFetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `tapline-plugin-hub-${process.pid}-`));
    await taplineRun(['seed', '--rows', '600', '--span', '30m', '--data', join(dir, 'data'), '--no-progress'], 120_000);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    hub = tapline(['hub', '--store', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--token', TOKEN]);
    await waitHealthy(hub, base, 60_000);
    rt = installGrafanaRuntimeStandIns({ hubUrl: base, token: TOKEN });
    ds = new DataSource(rt.settings);
  }, 180_000);

  afterAll(async () => {
    await stopProcess(hub);
    rmSync(dir, { recursive: true, force: true });
  });

  test('Save & test reports the store and its 600 entries', async () => {
    const r = await ds.testDatasource();
    expect(r.status).toBe('success');
    expect(r.message).toMatch(/^Connected to the Tapline hub .*Store: reachable, 600 entries stored\./);
  });

  test('without the token the hub refuses, and the data source says so', async () => {
    const noToken = new DataSource(installGrafanaRuntimeStandIns({ hubUrl: base }).settings);
    const [res] = await runAll(noToken, request([{ refId: 'A', queryType: 'catalog' }], { range }));
    expect(res.state).toBe(LoadingState.Error);
    expect(res.errors?.[0].message).toMatch(/Bearer|token/);
    installGrafanaRuntimeStandIns({ hubUrl: base, token: TOKEN }); // back to the right runtime
  });

  test('entries: the frame holds exactly the hub’s entries for the filter, newest first', async () => {
    const filter = 'status >= 400 and dst.service == "nginx"';
    const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries', filter, limit: 1000 }], { range }));
    const frame = res.data[0] as DataFrame;
    const truth = await direct<EntriesResponse>('entries', { filter, from: String(range.from.valueOf()), to: String(range.to.valueOf()), limit: '1000' });
    expect(truth.entries.length).toBeGreaterThan(0);
    expect(values(frame, 'id')).toEqual(truth.entries.map((e) => e.id));
    expect(values(frame, 'status')).toEqual(truth.entries.map((e) => e.status));
    expect(values(frame, 'time')).toEqual(truth.entries.map((e) => e.startUs / 1000));
    expect(values(frame, 'dst.service').every((s) => s === 'nginx')).toBe(true);
    const times = values(frame, 'time') as number[];
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  test('a bad filter comes back from the real parser with its column', async () => {
    const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries', filter: 'status = 404' }], { range }));
    expect(res.errors?.[0].message).toBe("use '==' to compare, not '=' at column 8");
    expect(await ds.validateFilter('status = 404')).toMatchObject({ valid: false, error: { position: 8 } });
    expect(await ds.validateFilter('status == 404')).toEqual({ valid: true });
  });

  test('stats: buckets follow max data points, and the counts add up to the entries in range', async () => {
    const narrow = timeRange(now - 3_600_000, now + 60_000);
    const [res] = await runAll(ds, request([{ refId: 'S', queryType: 'stats', metric: 'requests', groupBy: 'statusClass' }], { range: narrow, intervalMs: 1000, maxDataPoints: 60 }));
    expect(res.state).toBe(LoadingState.Done);
    const frames = res.data as DataFrame[];
    expect(frames.length).toBeGreaterThan(0);
    // HTTP by status class; the seeded DNS lookups (RCODEs) are "below 100".
    for (const f of frames) expect(f.name).toMatch(/^[1-5]xx$|^no response$|^below 100$|^0|^other|unanswered/i);
    const interval = (frames[0].meta?.custom as { intervalMs: number }).intervalMs;
    expect(interval).toBeGreaterThanOrEqual(Math.ceil((narrow.to.valueOf() - narrow.from.valueOf()) / 60));
    const total = frames.reduce((s, f) => s + (values(f, 'requests') as number[]).reduce((a, b) => a + b, 0), 0);
    const all = await direct<EntriesResponse>('entries', { from: String(narrow.from.valueOf()), to: String(narrow.to.valueOf()), limit: '10000' });
    expect(total).toBe(all.entries.length);
  });

  test('service map: node graph frames whose edges join known nodes', async () => {
    const [res] = await runAll(ds, request([{ refId: 'M', queryType: 'serviceMap' }], { range }));
    const [nodes, edges] = res.data as DataFrame[];
    expect([nodes.name, edges.name]).toEqual(['nodes', 'edges']);
    expect(nodes.meta?.preferredVisualisationType).toBe('nodeGraph');
    expect(nodes.length).toBeGreaterThan(1);
    expect(edges.length).toBeGreaterThan(0);
    const ids = new Set(values(nodes, 'id'));
    for (const s of values(edges, 'source')) expect(ids.has(s)).toBe(true);
    for (const t of values(edges, 'target')) expect(ids.has(t)).toBe(true);
    for (let i = 0; i < nodes.length; i++) {
      const arcs = ['arc__Ok', 'arc__ClientError', 'arc__ServerError', 'arc__NoResponse', 'arc__OneWay'].map((n) => values(nodes, n)[i] as number);
      const sum = arcs.reduce((a, b) => a + b, 0);
      // The outcomes of a node that received requests fill its ring; a pure client has none.
      if ((values(nodes, 'detail__requests')[i] as number) > 0) expect(sum).toBeCloseTo(1, 9);
      else expect(sum).toBe(0);
      expect(arcs.every((a) => a >= 0)).toBe(true);
    }
  });

  test('catalog: the nginx row counts what the hub lists for nginx', async () => {
    const [res] = await runAll(ds, request([{ refId: 'C', queryType: 'catalog' }], { range }));
    const f = res.data[0] as DataFrame;
    const services = values(f, 'service');
    const i = services.indexOf('nginx');
    expect(i).toBeGreaterThanOrEqual(0);
    const nginx = await direct<EntriesResponse>('entries', { filter: 'dst.service == "nginx"', from: String(range.from.valueOf()), to: String(range.to.valueOf()), limit: '10000' });
    expect(values(f, 'requests')[i]).toBe(nginx.entries.length);
    expect((values(f, 'succeeded')[i] as number) + (values(f, 'failed')[i] as number)).toBeLessThanOrEqual(nginx.entries.length);
  });

  test('entry: a row’s id opens that entry in full', async () => {
    const [list] = await runAll(ds, request([{ refId: 'A', queryType: 'entries', limit: 1 }], { range }));
    const id = values(list.data[0], 'id')[0] as string;
    const [res] = await runAll(ds, request([{ refId: 'E', queryType: 'entry', entryId: id }], { range }));
    const [entry, headers] = res.data as DataFrame[];
    expect(values(entry, 'id')).toEqual([id]);
    expect(values(entry, 'status')).toEqual([values(list.data[0], 'status')[0]]);
    expect(headers.length).toBeGreaterThan(0);
  });

  test('variables and ad-hoc filters against the real label lists and parser', async () => {
    const services = (await ds.metricFindQuery('service', { range })).map((v) => v.text);
    expect(services).toContain('nginx');
    const [res] = await runAll(
      ds,
      request([{ refId: 'A', queryType: 'entries', limit: 1000 }], { range, filters: [{ key: 'dst.service', operator: '=', value: 'nginx' }, { key: 'status', operator: '>=', value: '400' }] }),
    );
    const frame = res.data[0] as DataFrame;
    expect(frame.length).toBeGreaterThan(0);
    expect(values(frame, 'dst.service').every((s) => s === 'nginx')).toBe(true);
    expect((values(frame, 'status') as number[]).every((s) => s >= 400)).toBe(true);
  });
});

describe('live stream over `tapline up` capturing loopback', () => {
  let dir: string;
  let up: TaplineProcess | undefined;
  let peer: Server;
  let peerPort: number;
  let rt: StandIns;
  let sub: Subscription | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `tapline-plugin-up-${process.pid}-`));
    peer = createServer((req, res) => {
      const ok = req.url === '/index.html';
      res.writeHead(ok ? 200 : 404, { 'content-type': 'text/html' });
      res.end(ok ? '<h1>Welcome</h1>\n' : `<h1>404 Not Found: ${req.url}</h1>\n`);
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    peerPort = (peer.address() as { port: number }).port;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    up = tapline(['up', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--bpf', `tcp port ${peerPort}`]);
    await waitHealthy(up, base, 90_000, (h) => h.agent?.running === true);
    rt = installGrafanaRuntimeStandIns({ hubUrl: base });
  }, 180_000);

  afterAll(async () => {
    sub?.unsubscribe();
    await stopProcess(up);
    await new Promise((resolve) => peer?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('requests sent on loopback appear in the stream; unsubscribing closes the open poll', async () => {
    const ds = new DataSource(rt.settings);
    const packets: DataQueryResponse[] = [];
    const now = Date.now();
    sub = ds
      .query(request([{ refId: 'L', queryType: 'stream', filter: `http and dst.port == ${peerPort}` }], { range: { from: dateTime(now - 60_000), to: dateTime(now), raw: { from: 'now-1m', to: 'now' } } }))
      .subscribe((p) => packets.push(p));
    // The stream has its cursor and waits in a long-poll before any request is made.
    await waitFor(() => packets.length > 0 && rt.backend.inFlight === 1, 'the stream to be following', 20_000);
    expect((packets.at(-1)!.data[0] as DataFrame).length).toBe(0);

    for (const path of ['/index.html', '/error.html']) await (await nodeFetch(`http://127.0.0.1:${peerPort}${path}`)).text();

    const paths = () => values(packets.at(-1)!.data[0] as DataFrame, 'target');
    await waitFor(() => paths().length >= 2, 'two captured requests in the stream', 30_000);
    const frame = packets.at(-1)!.data[0] as DataFrame;
    expect(packets.at(-1)!.state).toBe(LoadingState.Streaming);
    expect(paths()).toEqual(['/error.html', '/index.html']); // newest first
    expect(values(frame, 'status')).toEqual([404, 200]);
    expect(values(frame, 'dst.port')).toEqual([peerPort, peerPort]);

    sub!.unsubscribe();
    sub = undefined;
    await waitFor(() => rt.backend.inFlight === 0, 'the open poll to be aborted', 5_000);
    const sent = rt.backend.sent.length;
    await (await nodeFetch(`http://127.0.0.1:${peerPort}/index.html`)).text();
    await new Promise((r) => setTimeout(r, 1_500)); // longer than the hub's settle time: a live stream would have polled again
    expect(rt.backend.sent.length).toBe(sent);
  });
});
