/**
 * The live stream over real HTTP: long-poll rounds carry the filter and the cursor, new entries land
 * at the top of a bounded frame, unsubscribing closes the open poll and stops all requests, a hub
 * that fails or goes away is retried with growing delays while the panel shows the error.
 */
import { LoadingState, type DataFrame, type DataQueryResponse } from '@grafana/data';
import type { Subscription } from 'rxjs';
import { DataSource } from '../../src/datasource/datasource';
import { liveStream } from '../../src/datasource/stream';
import type { EntrySummary, EntriesResponse } from '../../src/datasource/types';
import { installGrafanaRuntimeStandIns, type StandIns } from '../support/grafana-runtime-standins';
import { fixture, RecordedHub, type HubRequest } from '../support/recorded-hub';
import { request, waitFor } from '../support/requests';

let hub: RecordedHub;
let rt: StandIns;
let sub: Subscription | undefined;
const packets: DataQueryResponse[] = [];

const history = fixture<EntriesResponse>('entries').entries;
const live = (n: number): EntrySummary => ({ ...history[0], id: `live-${n}`, target: `/live/${n}`, startUs: 1732600100000000 + n * 1000 });
const last = () => packets[packets.length - 1];
const column = (name: string) => [...((last().data[0] as DataFrame).fields.find((f) => f.name === name)?.values ?? [])];

/** A scripted /stream: round 0 hands out the "now" cursor, later rounds answer from `script`. */
function scriptStream(script: Array<(r: HubRequest) => { status?: number; body: unknown } | 'hold'>) {
  let round = 0;
  hub.on('GET', '/api/v1/stream', (r) => {
    const step = script[Math.min(round++, script.length - 1)];
    const reply = step(r);
    // 'hold': a long-poll with nothing new; it stays open until the client goes away.
    return reply === 'hold' ? new Promise(() => {}) : reply;
  });
}

beforeEach(async () => {
  packets.length = 0;
  hub = await RecordedHub.start();
  hub.on('GET', '/api/v1/entries', { body: fixture('entries') });
  rt = installGrafanaRuntimeStandIns({ hubUrl: hub.url, token: 'tok' });
});

afterEach(async () => {
  sub?.unsubscribe();
  sub = undefined;
  await hub.stop();
});

test('backfills history, then new entries appear at the top; the filter and cursor ride along', async () => {
  scriptStream([
    () => ({ body: { entries: [], cursor: 'c0' } }),
    () => ({ body: { entries: [live(1), live(2)], cursor: 'c2' } }),
    () => 'hold',
  ]);
  hub.on('GET', '/api/v1/filter/completions', { body: fixture('completions') });
  const ds = new DataSource(rt.settings);
  rt.templates.variables.svc = 'nginx';
  sub = ds
    .query(request([{ refId: 'L', queryType: 'stream', filter: 'dst.service == $svc' }], { filters: [{ key: 'status', operator: '>=', value: '200' }] }))
    .subscribe((p) => packets.push(p));

  await waitFor(() => packets.length > 0 && (last().data[0] as DataFrame).length === 5, 'backfill + 2 live rows');
  await waitFor(() => hub.calls('/api/v1/stream').length === 3, 'the next poll');
  expect(last().state).toBe(LoadingState.Streaming);
  expect(last().key).toBe('tapline-stream-3-L');
  // Newest first: the live rows (newest on top), then history newest first.
  expect(column('id')).toEqual(['live-2', 'live-1', ...history.map((e) => e.id)]);
  expect(column('target').slice(0, 2)).toEqual(['/live/2', '/live/1']);

  const polls = hub.calls('/api/v1/stream');
  const filter = '(dst.service == "nginx") and (status >= 200)';
  expect(polls.map((p) => p.query.get('filter'))).toEqual(polls.map(() => filter));
  expect(polls.map((p) => p.query.get('cursor'))).toEqual([null, 'c0', 'c2']);
  expect(polls[0].query.get('wait')).toBe('0');
  expect(polls[1].query.get('wait')).toBe('25000');
  expect(polls.every((p) => p.headers.authorization === 'Bearer tok')).toBe(true);
  expect(hub.calls('/api/v1/entries')[0].query.get('filter')).toBe(filter);
});

test('the frame keeps only `capacity` rows, dropping the oldest', async () => {
  scriptStream([
    () => ({ body: { entries: [], cursor: 'c0' } }),
    () => ({ body: { entries: [live(1), live(2)], cursor: 'c2' } }),
    () => 'hold',
  ]);
  const ds = new DataSource(rt.settings);
  sub = ds.query(request([{ refId: 'L', queryType: 'stream', capacity: 3 }])).subscribe((p) => packets.push(p));
  await waitFor(() => packets.some((p) => (p.data[0] as DataFrame).fields[1].values.includes('live-2')), 'live-2');
  expect(column('id')).toEqual(['live-2', 'live-1', history[0].id]);
});

test('unsubscribe closes the open long-poll and no request follows', async () => {
  scriptStream([() => ({ body: { entries: [], cursor: 'c0' } }), () => 'hold']);
  sub = liveStream(new DataSource(rt.settings).hub, {
    refId: 'L', key: 'k', filter: '', capacity: 10, timeField: 'start', waitMs: 50, retryBaseMs: 20,
  }).subscribe((p) => packets.push(p));
  await waitFor(() => hub.calls('/api/v1/stream').length === 2 && hub.open === 1, 'the held poll');
  sub.unsubscribe();
  await waitFor(() => hub.open === 0, 'the hub to see the poll closed');
  const seen = hub.requests.length;
  // Watch for ten poll periods (and five first retries): a stream still running would have asked again.
  await new Promise((r) => setTimeout(r, 500));
  expect(hub.requests.length).toBe(seen);
  expect(rt.backend.inFlight).toBe(0);
});

test('a failing hub: the error shows, retries back off, and the stream resumes from its cursor', async () => {
  const times: number[] = [];
  scriptStream([
    () => ({ body: { entries: [], cursor: 'c0' } }),
    () => (times.push(Date.now()), { status: 503, body: { error: { code: 'store_unavailable', message: 'store unreachable' } } }),
    () => (times.push(Date.now()), { status: 503, body: { error: { code: 'store_unavailable', message: 'store unreachable' } } }),
    () => (times.push(Date.now()), { status: 503, body: { error: { code: 'store_unavailable', message: 'store unreachable' } } }),
    () => (times.push(Date.now()), { body: { entries: [live(7)], cursor: 'c7' } }),
    () => 'hold',
  ]);
  sub = liveStream(new DataSource(rt.settings).hub, {
    refId: 'L', key: 'k', filter: 'http', capacity: 10, timeField: 'start', waitMs: 1000, retryBaseMs: 40, retryMaxMs: 1000,
  }).subscribe((p) => packets.push(p));
  await waitFor(() => packets.some((p) => p.state === LoadingState.Streaming && (p.data[0] as DataFrame).fields[1].values.includes('live-7')), 'recovery');
  const errors = packets.filter((p) => p.state === LoadingState.Error);
  expect(errors).toHaveLength(3);
  expect(errors[0].errors?.[0].message).toBe('store unreachable — reconnecting in 0 s');
  // Backoff doubles: 40, 80, 160 ms between attempts (lower bounds; timers never fire early).
  expect(times[1] - times[0]).toBeGreaterThanOrEqual(39);
  expect(times[2] - times[1]).toBeGreaterThanOrEqual(79);
  expect(times[3] - times[2]).toBeGreaterThanOrEqual(159);
  expect(hub.calls('/api/v1/stream').slice(1, 5).map((p) => p.query.get('cursor'))).toEqual(['c0', 'c0', 'c0', 'c0']);
  expect(last().errors).toBeUndefined();
});

test('the hub going away and coming back: unreachable is reported, then rows flow again', async () => {
  scriptStream([() => ({ body: { entries: [], cursor: 'c0' } }), () => 'hold']);
  sub = liveStream(new DataSource(rt.settings).hub, {
    refId: 'L', key: 'k', filter: '', capacity: 10, timeField: 'start', waitMs: 1000, retryBaseMs: 50, retryMaxMs: 200,
  }).subscribe((p) => packets.push(p));
  await waitFor(() => hub.calls('/api/v1/stream').length === 2, 'the held poll');
  const port = Number(new URL(hub.url).port);
  await hub.stop();
  await waitFor(() => packets.some((p) => p.state === LoadingState.Error), 'the error packet');
  expect(packets.find((p) => p.state === LoadingState.Error)?.errors?.[0].message).toMatch(/Tapline hub is unreachable/);

  hub = await RecordedHub.start(port);
  scriptStream([(r) => ({ body: { entries: r.query.get('cursor') === 'c0' ? [live(9)] : [], cursor: 'c9' } }), () => 'hold']);
  await waitFor(() => last().state === LoadingState.Streaming && (last().data[0] as DataFrame).fields[1].values.includes('live-9'), 'rows after the hub came back');
  expect(hub.calls('/api/v1/stream')[0].query.get('cursor')).toBe('c0');
});

test('a bad filter ends the stream with the error instead of retrying', async () => {
  hub.on('GET', '/api/v1/stream', { status: 400, body: { error: { code: 'bad_filter', message: "unknown field 'x'", position: 1 } } });
  let completed = false;
  sub = liveStream(new DataSource(rt.settings).hub, {
    refId: 'L', key: 'k', filter: 'x == 1', capacity: 10, timeField: 'start', retryBaseMs: 10,
  }).subscribe({ next: (p) => packets.push(p), complete: () => (completed = true) });
  await waitFor(() => completed, 'the stream to complete');
  expect(packets).toHaveLength(1);
  expect(packets[0].state).toBe(LoadingState.Error);
  expect(packets[0].errors?.[0].message).toBe("unknown field 'x'");
  expect(hub.calls('/api/v1/stream')).toHaveLength(1);
});
