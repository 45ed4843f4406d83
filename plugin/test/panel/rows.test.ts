/** Reading panel rows from frames made by the data source's own frame code. */
import { appendEntries, entriesFrame, streamFrame } from '../../src/datasource/frames';
import { ProtocolRegistry } from '../../src/datasource/protocols';
import type { EntriesResponse, EntrySummary, ProtocolsJson } from '../../src/datasource/types';
import { entryFrame, frameSource, snapshot } from '../../src/panel/rows';
import { fixture } from '../support/recorded-hub';

const history = fixture<EntriesResponse>('entries').entries; // newest first
const make = (n: number): EntrySummary => ({ ...history[0], id: `e-${n}`, startUs: 1732600000000000 + n * 1000 });
const ids = (s: { length: number; id(i: number): string }) => Array.from({ length: s.length }, (_, i) => s.id(i));

test('a newest-first frame (stream ring, entries table) reads newest first, or oldest first', () => {
  const ring = streamFrame('A', 10);
  appendEntries(ring, [make(1), make(2), make(3)], 'start');
  expect(ids(frameSource(ring, 100, true))).toEqual(['e-3', 'e-2', 'e-1']);
  expect(ids(frameSource(ring, 100, false))).toEqual(['e-1', 'e-2', 'e-3']);
  const table = entriesFrame(history, { refId: 'A', timeField: 'start', links: [] });
  expect(ids(frameSource(table, 100, true))).toEqual(history.map((e) => e.id));
});

test('an oldest-first frame is read backwards; max keeps the newest', () => {
  const table = entriesFrame([make(1), make(2), make(3), make(4)], { refId: 'A', timeField: 'start', links: [] });
  expect(ids(frameSource(table, 100, true))).toEqual(['e-4', 'e-3', 'e-2', 'e-1']);
  expect(ids(frameSource(table, 2, true))).toEqual(['e-4', 'e-3']);
  expect(ids(frameSource(table, 2, false))).toEqual(['e-3', 'e-4']);
});

test('rows carry the values the list shows', () => {
  const table = entriesFrame(history, { refId: 'A', timeField: 'start', links: [] });
  const r = frameSource(table, 10, true).row(0);
  expect(r).toEqual({
    id: history[0].id,
    timeMs: 1732600002000,
    // No registry on this frame: the protocol shows by name, in no colour of its own.
    protocol: { name: 'http', abbr: 'HTTP' },
    operation: 'GET',
    target: '/error.html',
    status: 404,
    statusText: 'Not Found',
    outcome: 'client error',
    latencyMs: 1.5,
    src: { ip: '10.244.1.7', port: 51240, pod: 'test-pod', namespace: 'default', service: '', label: 'test-pod' },
    dst: { ip: '10.96.12.3', port: 80, pod: 'nginx-7c5b8d-abcde', namespace: 'default', service: 'nginx', label: 'nginx' },
  });
});

test('rows carry each protocol’s badge from the registry on the frame; an unknown protocol is neutral', () => {
  const protocols = new ProtocolRegistry(fixture<ProtocolsJson>('protocols'));
  const dns: EntrySummary = { ...history[0], id: 'dns-1', protocol: 'dns', operation: 'A', target: 'x.example', status: 3, statusText: 'NXDOMAIN', outcome: 2 };
  for (const frame of [entriesFrame([dns, history[0]], { refId: 'A', timeField: 'start', links: [], protocols }), streamFrame('A', 10, protocols)]) {
    if (frame.name === 'stream') appendEntries(frame as ReturnType<typeof streamFrame>, [history[0], dns], 'start');
    const src = frameSource(frame, 10, true);
    const rows = [src.row(0), src.row(1)].sort((a, b) => a.id.localeCompare(b.id));
    expect(rows.map((r) => r.protocol)).toEqual([
      { name: 'http', abbr: 'HTTP', color: '#205cc0' },
      { name: 'dns', abbr: 'DNS' },
    ]);
    expect(rows.map((r) => [r.status, r.statusText, r.outcome])).toEqual([
      [404, 'Not Found', 'client error'],
      [3, 'NXDOMAIN', 'client error'],
    ]);
  }
});

test('a snapshot does not change when the ring moves on', () => {
  const ring = streamFrame('A', 3);
  appendEntries(ring, [make(1), make(2), make(3)], 'start');
  const frozen = snapshot(frameSource(ring, 100, true));
  appendEntries(ring, [make(4), make(5)], 'start');
  expect(ids(frozen)).toEqual(['e-3', 'e-2', 'e-1']);
  expect(ids(frameSource(ring, 100, true))).toEqual(['e-5', 'e-4', 'e-3']);
});

test('entryFrame picks the frame with entry columns', () => {
  const ring = streamFrame('A', 3);
  expect(entryFrame([{ fields: [], length: 0 }, ring])).toBe(ring);
  expect(entryFrame([{ fields: [], length: 0 }])).toBeUndefined();
});
