import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, EntryEncodeError, NativeBatch, encodeEntriesNative } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { HeaderList, NO_FIELDS, Outcome, type Entry } from '../../src/entries/entry.js';
import { readBack } from './read-back.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';

const NOW_US = Math.floor(Date.now() / 1000) * 1_000_000 - 60_000_000 + 654_321;
const MAX = Number.MAX_SAFE_INTEGER;

function base(id: string): Entry {
  const [e] = syntheticEntries({ count: 1, seed: 5, startUs: NOW_US, spanUs: 1 });
  return { ...e, id, startUs: NOW_US, endUs: NOW_US + 5, durationUs: 5 };
}

/** Entries at the edges of every column type. */
function edgeEntries(): Entry[] {
  const long = (n: number) => 'x'.repeat(n - 1) + 'é'; // n characters, n + 1 bytes
  return [
    {
      ...base('edge-max'), durationUs: MAX, endUs: MAX, status: 65535,
      src: { ...base('').src, ip: '255.255.255.255', port: 65535 },
      dst: { ...base('').dst, ip: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 0 },
      requestBody: { bytes: Buffer.alloc(1 << 20, 0xa5), size: MAX, wireSize: MAX, truncated: true, encoding: 'br' },
    },
    {
      ...base('edge-empty'), agent: '', protocol: '', protocolVersion: '', operation: '', target: '', query: '', host: '', statusText: '',
      src: { ip: '', port: 0, pod: '', namespace: '', service: '', workload: '', node: '' },
      dst: { ip: '::', port: 0, pod: '', namespace: '', service: '', workload: '', node: '' },
      requestHeaders: HeaderList.of([]), responseHeaders: HeaderList.of([['', '']]),
      requestBody: { bytes: Buffer.alloc(0), size: 0, wireSize: 0, truncated: false, encoding: '' },
      responseBody: { bytes: Buffer.alloc(0), size: 0, wireSize: 0, truncated: false, encoding: '' },
      durationUs: 0, status: 0, outcome: Outcome.none, unanswered: true, incomplete: true, fields: {},
    },
    {
      ...base('edge-lengths'), target: long(127), query: long(128), host: long(16383), statusText: long(16384),
      requestHeaders: HeaderList.of([['a'.repeat(127), 'b'.repeat(128)], ['c'.repeat(16384), long(200)]]),
      responseBody: { bytes: Buffer.alloc(16384, 0), size: 16384, wireSize: 1, truncated: false, encoding: 'gzip' },
    },
    {
      ...base('edge-unicode'), agent: 'nœud-ü', operation: 'ПОЛУЧИТЬ', target: '/𝄞/✓/\u0000/\uFEFF', query: 'q=日本語',
      src: { ...base('').src, ip: '::ffff:10.1.2.3', pod: 'pod-ß', namespace: 'ns-😀' },
      dst: { ...base('').dst, ip: '2001:db8::10.1.2.3' },
      requestHeaders: HeaderList.of([['X-Ü', 'ünïcödé ✓ 𝄞'], ['X-Latin1', String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))]]),
      responseBody: { bytes: Buffer.from('😀 not valid: \xff\xfe', 'latin1'), size: 17, wireSize: 17, truncated: false, encoding: '' },
    },
    {
      // Typed fields of both kinds at their edges, a UDP exchange, a protocol-native status below 100.
      ...base('edge-fields'), protocol: 'dns', transport: 'udp', operation: 'AAAA', target: 'xn--bcher-kva.example.', status: 3,
      statusText: 'NXDOMAIN', outcome: Outcome.clientError,
      fields: {
        'dns.qname': 'bücher.example.', 'dns.empty': '', 'dns.long': long(300), 'x.ü𝄞': '\u0000✓', '': 'empty key',
        'dns.rcode': 3, 'dns.zero': 0, 'dns.negative': -42, 'dns.fraction': 0.1, 'dns.big': 2 ** 53 + 2, 'dns.huge': 1.7976931348623157e308,
        'dns.tiny': 5e-324, 'dns.minus_zero': -0,
      },
    },
    { ...base('edge-text-fields'), fields: { 'kafka.topic': 'orders', 'kafka.key': 'k1' } },
    { ...base('edge-number-fields'), fields: { 'redis.db': 2 } },
    ...[Outcome.none, Outcome.ok, Outcome.clientError, Outcome.serverError, Outcome.oneWay].map(
      (outcome): Entry => ({ ...base(`edge-outcome-${outcome}`), outcome, transport: outcome % 2 === 0 ? 'udp' : 'tcp', fields: NO_FIELDS }),
    ),
    ...['::', '::1', '1::', 'fe80::1:2', '2001:db8:0:0:1:0:0:1', '::ffff:0:1.2.3.4', '1:2:3:4:5:6:7.8.9.10', '0.0.0.0', '10.0.0.1'].map(
      (ip, i): Entry => ({ ...base(`edge-ip-${i}`), src: { ...base('').src, ip }, dst: { ...base('').dst, ip: ip.includes(':') ? '1.2.3.4' : ip } }),
    ),
  ];
}

/**
 * Headers as the agent keeps them: ranges of captured heads (bytes 0x80-0xFF, a NUL, a fold, a
 * trailer, redaction marks), with the pairs the test wrote (latin1: a byte is a character).
 */
async function capturedEntries(): Promise<{ entries: Entry[]; request: Array<[string, string]>; response: Array<[string, string]> }> {
  const c = new Conversation({ ip: '10.8.0.1', port: 40000 }, { ip: '10.8.0.2', port: 80 }).handshake();
  c.send(Buffer.from('GET /c HTTP/1.1\r\nHost: h\r\nX-Bytes: \x80\xe9\xff\x00~\r\nX-Fold: a\r\n b\r\nCookie: secret\r\n\xc9t\xe9:  \xe0 \r\n\r\n', 'latin1'));
  c.reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: s=1\r\n\r\n1\r\nz\r\n0\r\nX-Trailer: t\r\n\r\n');
  for (let i = 0; i < 3; i++) {
    c.send(`GET /n${i} HTTP/1.1\r\nHost: n${i}\r\nX-Long: ${'v'.repeat(100 + 20 * i)}\r\n\r\n`);
    c.reply(`HTTP/1.1 204 No Content\r\nServer: s${i}\r\n\r\n`);
  }
  c.close();
  const { entries } = await importFrames(c.frames);
  const request: Array<[string, string]> = [['Host', 'h'], ['X-Bytes', '\x80\xe9\xff\x00~'], ['X-Fold', 'a b'], ['Cookie', '[REDACTED]'], ['\xc9t\xe9', '\xe0']];
  const response: Array<[string, string]> = [['Transfer-Encoding', 'chunked'], ['Set-Cookie', '[REDACTED]'], ['trailer X-Trailer', 't']];
  return { entries: entries.map((e, i) => ({ ...e, id: `captured-${i}`, startUs: NOW_US + i, endUs: NOW_US + i })), request, response };
}

describe('Native block encoding (store/native.ts)', () => {
  let t: TempStore;
  before(async () => {
    t = await tempStore();
  });
  after(() => t.dispose());


  it('stores every column at its edges: max values, empty strings and arrays, long and unicode strings, IPs', async () => {
    const entries = edgeEntries().sort((a, b) => (a.id < b.id ? -1 : 1));
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries));
    const back = await readBack(t.store, entries.map((e) => e.id));
    // IPs come back in the store's spelling; compare them through the engine's own parser instead.
    const sameButIp = (e: Entry) => ({ ...e, src: { ...e.src, ip: '' }, dst: { ...e.dst, ip: '' } });
    assert.deepEqual(back.map(sameButIp), entries.map(sameButIp));
    const rs = await t.store.client.query({
      query: `SELECT id, src_ip = toIPv6(if(p.2 = '', '::', p.2)) AS same FROM ${t.store.database}.entries
              ARRAY JOIN arrayZip({ids:Array(String)}, {ips:Array(String)}) AS p WHERE id = p.1`,
      query_params: { ids: entries.map((e) => e.id), ips: entries.map((e) => e.src.ip) },
      format: 'JSONEachRow',
    });
    const same = await rs.json<{ id: string; same: number | boolean }>();
    assert.equal(same.length, entries.length);
    for (const r of same) assert.ok(Boolean(r.same), `src_ip of ${r.id} as the engine parses the text`);
  });

  it('stores typed fields in two maps by value type, transport and outcome in their columns, and reads them back', async () => {
    // The rows the first test wrote, read independently of rowToEntry.
    const rs = await t.store.client.query({
      query: `SELECT id, transport, outcome, fields_text, fields_number, toTypeName(fields_text) AS tt, toTypeName(fields_number) AS nt
              FROM ${t.store.database}.entries WHERE id IN ('edge-fields', 'edge-text-fields', 'edge-number-fields', 'edge-outcome-0', 'edge-outcome-4') ORDER BY id`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ id: string; transport: string; outcome: number; fields_text: Record<string, string>; fields_number: Record<string, number>; tt: string; nt: string }>();
    assert.deepEqual(rows.map((r) => [r.id, r.transport, r.outcome, r.tt, r.nt]), [
      ['edge-fields', 'udp', 2, 'Map(LowCardinality(String), String)', 'Map(LowCardinality(String), Float64)'],
      ['edge-number-fields', 'tcp', base('').outcome, 'Map(LowCardinality(String), String)', 'Map(LowCardinality(String), Float64)'],
      ['edge-outcome-0', 'udp', 0, 'Map(LowCardinality(String), String)', 'Map(LowCardinality(String), Float64)'],
      ['edge-outcome-4', 'udp', 4, 'Map(LowCardinality(String), String)', 'Map(LowCardinality(String), Float64)'],
      ['edge-text-fields', 'tcp', base('').outcome, 'Map(LowCardinality(String), String)', 'Map(LowCardinality(String), Float64)'],
    ]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.deepEqual(byId.get('edge-fields')!.fields_text, { 'dns.qname': 'bücher.example.', 'dns.empty': '', 'dns.long': 'x'.repeat(299) + 'é', 'x.ü𝄞': '\u0000✓', '': 'empty key' });
    assert.deepEqual(Object.keys(byId.get('edge-fields')!.fields_number), ['dns.rcode', 'dns.zero', 'dns.negative', 'dns.fraction', 'dns.big', 'dns.huge', 'dns.tiny', 'dns.minus_zero']);
    assert.equal(byId.get('edge-fields')!.fields_number['dns.big'], 2 ** 53 + 2);
    assert.deepEqual(byId.get('edge-text-fields')!.fields_number, {});
    assert.deepEqual(byId.get('edge-number-fields')!.fields_text, {});
    assert.deepEqual([byId.get('edge-outcome-0')!.fields_text, byId.get('edge-outcome-0')!.fields_number], [{}, {}]);
    // A map lookup as the filter language compiles it, and entries without fields read as the shared NO_FIELDS.
    const lookup = await t.store.client.query({
      query: `SELECT id FROM ${t.store.database}.entries WHERE fields_number['dns.rcode'] = 3 AND fields_text['dns.qname'] LIKE 'bü%'`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await lookup.json(), [{ id: 'edge-fields' }]);
    const [none] = await readBack(t.store, ['edge-outcome-1']);
    assert.equal(none.fields, NO_FIELDS);
  });

  it('stores the headers of captured heads as the strings they stand for (latin1 bytes, folds, trailers, redaction)', async () => {
    const { entries, request, response } = await capturedEntries();
    assert.equal(entries.length, 4);
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries));
    const back = await readBack(t.store, entries.map((e) => e.id));
    assert.deepEqual(back[0].requestHeaders.toPairs(), request);
    assert.deepEqual(back[0].responseHeaders.toPairs(), response);
    for (let i = 1; i < 4; i++) {
      assert.deepEqual(back[i].requestHeaders.toPairs(), [['Host', `n${i - 1}`], ['X-Long', 'v'.repeat(80 + 20 * i)]]);
      assert.deepEqual(back[i].responseHeaders.toPairs(), [['Server', `s${i - 1}`]]);
    }
    // Independently of rowToEntry: the stored bytes of the first request's values are their UTF-8.
    const rs = await t.store.client.query({
      query: `SELECT arrayMap(v -> hex(v), request_header_values) AS hv FROM ${t.store.database}.entries WHERE id = 'captured-0'`,
      format: 'JSONEachRow',
    });
    const [{ hv }] = await rs.json<{ hv: string[] }>();
    assert.deepEqual(hv, request.map(([, v]) => Buffer.from(v, 'utf8').toString('hex').toUpperCase()));
  });

  it('writes the same bytes the engine writes for the same rows in Native', async () => {
    const captured = (await capturedEntries()).entries;
    const entries = [...syntheticEntries({ count: 300, seed: 11, startUs: NOW_US - 3600e6, spanUs: 3600e6 }), ...edgeEntries(), ...captured]
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    await t.store.client.command({ query: `TRUNCATE TABLE ${t.store.database}.entries` });
    const ours = encodeEntriesNative(entries);
    await t.store.insertNative('entries', ENTRY_COLUMNS, ours);
    // The engine's own Native output of the stored rows, with the block's types (LowCardinality as
    // String) and ingested_at NULL as in a block of entries without ingestedUs; one thread, so one block.
    const cols = ENTRY_COLUMNS.map((c) => {
      if (c === 'ingested_at') return "CAST(NULL AS Nullable(DateTime64(6, 'UTC'))) AS ingested_at";
      if (c === 'fields_text') return 'CAST(fields_text AS Map(String, String)) AS fields_text';
      if (c === 'fields_number') return 'CAST(fields_number AS Map(String, Float64)) AS fields_number';
      return /_(pod|namespace|service|workload|node|encoding)$|^(agent|protocol|protocol_version|transport|operation|status_text)$/.test(c) ? `CAST(${c} AS String) AS ${c}` : c;
    });
    const { stream } = await t.store.client.exec({
      query: `SELECT ${cols.join(', ')} FROM ${t.store.database}.entries ORDER BY id SETTINGS max_block_size = 100000, max_threads = 1 FORMAT Native`,
    });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const engine = Buffer.concat(chunks);
    assert.equal(ours.length, engine.length, 'block size');
    assert.ok(ours.equals(engine), 'identical bytes');
  });

  it('stores ingestedUs as ingested_at, and the insert time when absent', async () => {
    const stamped = { ...base('ingested-set'), ingestedUs: NOW_US + 42 };
    const unstamped = base('ingested-unset');
    const before = Date.now() * 1000;
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative([stamped, unstamped]));
    const rs = await t.store.client.query({
      query: `SELECT id, toUnixTimestamp64Micro(ingested_at) AS us FROM ${t.store.database}.entries WHERE id LIKE 'ingested-%' ORDER BY id`,
      format: 'JSONEachRow',
    });
    const [set, unset] = await rs.json<{ id: string; us: number | string }>();
    assert.equal(Number(set.us), NOW_US + 42);
    assert.ok(Number(unset.us) >= before - 1_000_000 && Number(unset.us) <= Date.now() * 1000 + 1_000_000, `insert time, got ${unset.us}`);
  });

  it('inserts a block once when retried with the same dedup token', async () => {
    const block = encodeEntriesNative([base('dedup-1'), base('dedup-2')]);
    for (let i = 0; i < 3; i++) await t.store.insertNative('entries', ENTRY_COLUMNS, block, 'test-token-1');
    const rs = await t.store.client.query({ query: `SELECT count() AS n FROM ${t.store.database}.entries WHERE id LIKE 'dedup-%'`, format: 'JSONEachRow' });
    assert.equal(Number((await rs.json<{ n: number }>())[0].n), 2);
  });

  it('rejects a bad entry whole, naming the field, and keeps the batch as it was', async () => {
    const batch = new NativeBatch(4);
    batch.append(base('atomic-1'));
    const bytes = batch.bytes;
    const bad: Array<[Entry, RegExp]> = [
      [{ ...base('bad-ip'), dst: { ...base('').dst, ip: '10.0.0.300' } }, /bad-ip.*dst\.ip is not an IP address: "10\.0\.0\.300"/],
      [{ ...base('bad-zone'), src: { ...base('').src, ip: 'fe80::1%eth0' } }, /src\.ip is not an IP address without a zone/],
      [{ ...base('bad-port'), src: { ...base('').src, port: 65536 } }, /src\.port must be an integer 0\.\.65535, got 65536/],
      [{ ...base('bad-size'), responseBody: { ...base('').responseBody, size: -1 } }, /responseBody\.size must be an integer/],
      [{ ...base('bad-big'), durationUs: MAX + 1 }, /durationUs must be an integer/],
      [{ ...base('bad-ingested'), ingestedUs: 1.5 }, /ingestedUs must be an integer/],
      [{ ...base('bad-outcome'), outcome: 5 as Outcome }, /bad-outcome.*outcome must be an integer 0\.\.4, got 5/],
      [{ ...base('bad-field-nan'), fields: { 'dns.qname': 'a', 'dns.rcode': Number.NaN } }, /bad-field-nan.*fields\["dns\.rcode"\] must be a string or a finite number, got NaN/],
      [{ ...base('bad-field-inf'), fields: { 'x.n': -Infinity } }, /fields\["x\.n"\] must be a string or a finite number, got -Infinity/],
      [{ ...base('bad-field-type'), fields: { 'x.b': true } as unknown as Entry['fields'] }, /fields\["x\.b"\] must be a string or a finite number, got true/],
    ];
    for (const [e, message] of bad) {
      assert.throws(() => batch.append(e), (err: unknown) => err instanceof EntryEncodeError && message.test(err.message));
      assert.equal(batch.rows, 1);
      assert.equal(batch.bytes, bytes, `nothing of ${e.id} was written`);
    }
    batch.append(base('atomic-2'));
    const counted = batch.bytes;
    const { body, rows } = batch.take();
    assert.equal(rows, 2);
    assert.equal(counted, body.length - encodeEntriesNative([]).length, 'bytes counts the column data (the block less its header)');
    assert.equal(batch.rows, 0);
    await t.store.insertNative('entries', ENTRY_COLUMNS, body);
    assert.deepEqual((await readBack(t.store, ['atomic-1', 'atomic-2'])).map((e) => e.id), ['atomic-1', 'atomic-2']);
    // The batch is reusable after take().
    batch.append(base('atomic-3'));
    await t.store.insertNative('entries', ENTRY_COLUMNS, batch.take().body);
    assert.deepEqual(await readBack(t.store, ['atomic-3']), [base('atomic-3')]);
  });
});
