import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, ENTRY_COLUMNS, encodeEntriesNative, entryToRow, rowToEntry, EntryEncodeError, type Store } from '../../src/store/index.js';
import { HeaderList, NO_FIELDS, Outcome, type Entry } from '../../src/entries/entry.js';
import { readBack } from './read-back.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { startClickHouseHttp, type ClickHouseHttpEndpoint } from '../../../test/support/clickhouse-http.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const ALL_CHARS = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
// Recent (the TTL would drop old rows), with a microsecond part.
const NOW_US = Math.floor(Date.now() / 1000) * 1_000_000 - 60_000_000 + 123_457;

function oddEntry(id: string): Entry {
  return {
    id, agent: 'node-a\tb', protocol: 'http', protocolVersion: '1.1', transport: 'tcp',
    startUs: NOW_US, endUs: NOW_US + 100_001, durationUs: 100_001,
    src: { ip: '2001:db8::7', port: 65535, pod: "pod'x", namespace: 'ns\\1', service: '', workload: 'w\nx', node: 'n' },
    dst: { ip: '10.96.12.3', port: 80, pod: 'nginx-1', namespace: 'default', service: 'nginx', workload: 'nginx', node: 'kind-worker' },
    operation: 'GET', target: "/a b/\t'\\\"/ü", query: 'x=1&y=%00', host: 'nginx.default', status: 404, statusText: 'Not Found',
    outcome: Outcome.clientError,
    requestHeaders: HeaderList.of([['Host', 'nginx'], ['X-All', ALL_CHARS], ['x-all', 'second'], ['X-All', ''], ['Emoji', '✓ 𝄞 ü']]),
    responseHeaders: HeaderList.of([['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Bytes', ALL_CHARS.split('').reverse().join('')]]),
    requestBody: { bytes: ALL_BYTES, size: 256, wireSize: 300, truncated: true, encoding: 'gzip' },
    responseBody: { bytes: Buffer.concat([Buffer.from('{"ok":1}\n\\N\t'), Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x5c, 0x78])]), size: 17, wireSize: 17, truncated: false, encoding: '' },
    fields: { 'http.odd\t\'key': "va'l\\ue\n", 'http.n': 1.25 },
    unanswered: false, incomplete: true,
  };
}

/** A DNS-like exchange over UDP: text and number fields, a native status below 100. */
function udpEntry(id: string, outcome: Outcome): Entry {
  return {
    ...oddEntry(id), protocol: 'dns', protocolVersion: '', transport: 'udp', operation: 'A', target: 'cart.shop.svc.cluster.local.',
    query: '', host: '', status: outcome === Outcome.clientError ? 3 : 0, statusText: outcome === Outcome.clientError ? 'NXDOMAIN' : '',
    outcome, unanswered: outcome === Outcome.none, durationUs: outcome === Outcome.none ? 0 : 100_001,
    requestHeaders: HeaderList.of([]), responseHeaders: HeaderList.of([['A', '10.96.40.20']]),
    fields: outcome === Outcome.oneWay ? NO_FIELDS : { 'dns.qname': 'cart.shop.svc.cluster.local.', 'dns.qtype': 1, 'dns.rcode': outcome === Outcome.clientError ? 3 : 0, 'dns.ttl': 30.5 },
  };
}


async function rawHex(store: Store, id: string): Promise<Record<string, unknown>> {
  const rs = await store.client.query({
    query: `SELECT hex(request_body) AS req, hex(response_body) AS res, arrayMap(x -> hex(x), request_header_values) AS hv
            FROM ${store.database}.entries WHERE id = {id:String}`,
    query_params: { id },
    format: 'JSONEachRow',
  });
  return (await rs.json<Record<string, unknown>>())[0];
}

describe('entries round trip', () => {
  let t: TempStore;
  let http: ClickHouseHttpEndpoint;
  let server: Store;
  before(async () => {
    t = await tempStore();
    http = await startClickHouseHttp(t.dataDir);
    server = openStore({ kind: 'server', url: http.url, database: t.store.database });
  });
  after(async () => {
    await server.close();
    await http.close();
    await t.dispose();
  });

  for (const path of ['embedded', 'server'] as const) {
    it(`stores and reads back every column and every byte (${path} path)`, async () => {
      const store = path === 'embedded' ? t.store : server;
      const a = oddEntry(`${path}-a`);
      const b: Entry = { ...oddEntry(`${path}-b`), src: { ...a.src, ip: '' }, status: 0, statusText: '', outcome: Outcome.none, unanswered: true, durationUs: 0, fields: NO_FIELDS,
        requestHeaders: HeaderList.of([]), responseHeaders: HeaderList.of([]), responseBody: { bytes: Buffer.alloc(0), size: 0, wireSize: 0, truncated: false, encoding: '' } };
      await store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative([a, b]));
      assert.deepEqual(await readBack(store, [a.id, b.id]), [a, b]);
      // Independently of rowToEntry: the stored bytes, as hex.
      const hex = await rawHex(store, a.id);
      assert.equal(hex.req, ALL_BYTES.toString('hex').toUpperCase());
      assert.equal(hex.res, a.responseBody.bytes.toString('hex').toUpperCase());
      assert.deepEqual(hex.hv, a.requestHeaders.toPairs().map(([, v]) => Buffer.from(v, 'utf8').toString('hex').toUpperCase()));
    });
  }

  for (const path of ['embedded', 'server'] as const) {
    it(`stores transport, each outcome and typed fields (text, numbers, none) and reads them back (${path} path)`, async () => {
      const store = path === 'embedded' ? t.store : server;
      const outcomes = [Outcome.none, Outcome.ok, Outcome.clientError, Outcome.serverError, Outcome.oneWay];
      const entries = outcomes.map((o) => udpEntry(`${path}-udp-${o}`, o));
      await store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries));
      const back = await readBack(store, entries.map((e) => e.id));
      assert.deepEqual(back, entries);
      assert.equal(back[4].fields, NO_FIELDS, 'no fields read back as the shared NO_FIELDS');
      assert.equal(typeof back[1].fields['dns.qtype'], 'number');
      // Independently of rowToEntry.
      const rs = await store.client.query({
        query: `SELECT outcome, transport, operation, target, fields_number['dns.rcode'] AS rcode, fields_text['dns.qname'] AS qname
                FROM ${store.database}.entries WHERE id IN {ids:Array(String)} ORDER BY id`,
        query_params: { ids: entries.map((e) => e.id) },
        format: 'JSONEachRow',
      });
      assert.deepEqual(await rs.json(), outcomes.map((o) => ({
        outcome: o, transport: 'udp', operation: 'A', target: 'cart.shop.svc.cluster.local.',
        rcode: o === Outcome.clientError ? 3 : 0, qname: o === Outcome.oneWay ? '' : 'cart.shop.svc.cluster.local.',
      })));
    });
  }

  it('entryToRow and rowToEntry are inverse', () => {
    const e = oddEntry('x');
    assert.deepEqual(rowToEntry(entryToRow(e)), e);
    const row = entryToRow(e);
    assert.deepEqual([row.fields_text, row.fields_number], [{ 'http.odd\t\'key': "va'l\\ue\n" }, { 'http.n': 1.25 }]);
    for (const o of [Outcome.none, Outcome.oneWay]) assert.deepEqual(rowToEntry(entryToRow(udpEntry('u', o))), udpEntry('u', o));
  });

  it('rejects an entry with a bad field, naming it', () => {
    assert.throws(() => encodeEntriesNative([{ ...oddEntry('bad-ip'), dst: { ...oddEntry('').dst, ip: '10.0.0.300' } }]),
      (err: unknown) => err instanceof EntryEncodeError && err.field === 'dst.ip' && /bad-ip.*dst\.ip.*10\.0\.0\.300/.test(err.message));
    assert.throws(() => encodeEntriesNative([{ ...oddEntry('bad-port'), src: { ...oddEntry('').src, port: 70000 } }]), /src\.port must be an integer 0\.\.65535, got 70000/);
    assert.throws(() => encodeEntriesNative([{ ...oddEntry('bad-time'), startUs: Number.NaN }]), /startUs must be an integer/);
  });
});
