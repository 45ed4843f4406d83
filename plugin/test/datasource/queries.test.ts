/**
 * The DataSource against recorded hub answers (docs/api.md) over real HTTP on loopback: what it
 * asks the hub, and the frames it makes, field by field.
 */
import { FieldType, LoadingState, MappingType, type DataFrame, type Field } from '@grafana/data';
import { DataSource } from '../../src/datasource/datasource';
import { entriesFrame } from '../../src/datasource/frames';
import { ProtocolRegistry } from '../../src/datasource/protocols';
import type { EntrySummary, ProtocolsJson } from '../../src/datasource/types';
import { installGrafanaRuntimeStandIns, type StandIns } from '../support/grafana-runtime-standins';
import { fixture, RecordedHub } from '../support/recorded-hub';
import { FROM_MS, request, runAll, TO_MS } from '../support/requests';

let hub: RecordedHub;
let rt: StandIns;
let ds: DataSource;

const field = (f: DataFrame, name: string): Field => {
  const x = f.fields.find((y) => y.name === name);
  if (!x) throw new Error(`frame ${f.name} has no field ${name} (has ${f.fields.map((y) => y.name).join(', ')})`);
  return x;
};
const values = (f: DataFrame, name: string) => [...field(f, name).values];

beforeEach(async () => {
  hub = await RecordedHub.start();
  hub
    .on('GET', '/api/v1/entries', { body: fixture('entries') })
    .on('GET', '/api/v1/entries/:id', (r) =>
      r.path.endsWith('0004-7000-8000-000000000004') ? { body: fixture('entry-binary') } : { body: fixture('entry-404') },
    )
    .on('GET', '/api/v1/stats', (r) => ({ body: fixture(r.query.get('metric') === 'latency' ? 'stats-latency' : 'stats-status') }))
    .on('GET', '/api/v1/servicemap', { body: fixture('servicemap') })
    .on('GET', '/api/v1/catalog', { body: fixture('catalog') })
    .on('GET', '/api/v1/top', { body: fixture('top') })
    .on('GET', '/api/v1/filter/completions', { body: fixture('completions') })
    .on('GET', '/api/v1/labels/namespace', { body: { values: ['default', 'kube-system'] } })
    .on('GET', '/api/v1/protocols', { body: fixture('protocols') })
    .on('GET', '/api/v1/health', { body: fixture('health-ok') });
  rt = installGrafanaRuntimeStandIns({ hubUrl: hub.url, token: 's3cret' });
  ds = new DataSource(rt.settings);
});

afterEach(async () => {
  await hub.stop();
});

describe('entries', () => {
  test('asks the hub through the proxy route with the token, range, filter and limit', async () => {
    await runAll(ds, request([{ refId: 'A', queryType: 'entries', filter: 'status >= 400', limit: 50 }]));
    const [call] = hub.calls('/api/v1/entries');
    expect(call.headers.authorization).toBe('Bearer s3cret');
    expect(call.query.get('filter')).toBe('status >= 400');
    expect(call.query.get('from')).toBe(String(FROM_MS));
    expect(call.query.get('to')).toBe(String(TO_MS));
    expect(call.query.get('limit')).toBe('50');
  });

  test('makes a table frame, newest first, with the entry fields', async () => {
    const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries' }]));
    expect(res.state).toBe(LoadingState.Done);
    expect(res.data).toHaveLength(1);
    const f = res.data[0] as DataFrame;
    expect(f.refId).toBe('A');
    expect(f.length).toBe(3);
    expect(field(f, 'time').type).toBe(FieldType.time);
    expect(values(f, 'time')).toEqual([1732600002000, 1732600001000, 1732600000000]);
    expect(values(f, 'id')).toEqual([
      '0193a1b2-0003-7000-8000-000000000003',
      '0193a1b2-0002-7000-8000-000000000002',
      '0193a1b2-0001-7000-8000-000000000001',
    ]);
    expect(values(f, 'operation')).toEqual(['GET', 'GET', 'GET']);
    expect(values(f, 'target')).toEqual(['/error.html', '/50x.html', '/index.html']);
    expect(field(f, 'status').type).toBe(FieldType.number);
    expect(values(f, 'status')).toEqual([404, 200, 200]);
    expect(values(f, 'statusText')).toEqual(['Not Found', 'OK', 'OK']);
    expect(values(f, 'outcome')).toEqual(['client error', 'ok', 'ok']);
    expect(values(f, 'transport')).toEqual(['tcp', 'tcp', 'tcp']);
    expect(values(f, 'latency')).toEqual([1.5, 0.9, 1.234]);
    expect(field(f, 'latency').config.unit).toBe('ms');
    // Named by Kubernetes where known, by address otherwise.
    expect(values(f, 'source')).toEqual(['test-pod', 'test-pod', 'test-pod']);
    expect(values(f, 'destination')).toEqual(['nginx', 'nginx', '10.96.12.3:80']);
    expect(values(f, 'src.ip')).toEqual(['10.244.1.7', '10.244.1.7', '10.244.1.7']);
    expect(values(f, 'src.port')).toEqual([51240, 51238, 51234]);
    expect(values(f, 'dst.service')).toEqual(['nginx', 'nginx', '']);
    expect(values(f, 'dst.namespace')).toEqual(['default', 'default', '']);
    expect(values(f, 'query')).toEqual(['', '', 'lang=en']);
    expect(values(f, 'response.size')).toEqual([153, 497, 615]);
    expect(values(f, 'unanswered')).toEqual([false, false, false]);
    expect(values(f, 'agent')).toEqual(['kind-worker', 'kind-worker', 'kind-worker']);
    // The hub said more match: the panel says so.
    expect(f.meta?.notices?.[0].text).toMatch(/newest 3 entries; more match/);
  });

  test('rows link to the entry in Explore, and to the entry dashboard when one is set', async () => {
    let [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries' }]));
    let links = field(res.data[0], 'id').config.links ?? [];
    expect(links).toHaveLength(1);
    expect(links[0].internal).toEqual({
      datasourceUid: 'tapline-test',
      datasourceName: 'Tapline',
      query: { refId: 'A', queryType: 'entry', entryId: '${__data.fields.id}', datasource: { type: 'tapline-traffic-datasource', uid: 'tapline-test' } },
    });
    expect(field(res.data[0], 'target').config.links).toEqual(links);

    rt = installGrafanaRuntimeStandIns({ hubUrl: hub.url, jsonData: { entryDashboardUid: 'tapline-entry', timeField: 'end' } });
    ds = new DataSource(rt.settings);
    [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries' }]));
    links = field(res.data[0], 'id').config.links ?? [];
    expect(links.map((l) => l.url)).toEqual(['/d/tapline-entry?var-entry=${__data.fields.id}&${__url_time_range}', '']);
    // timeField 'end': start + duration, in ms.
    expect(values(res.data[0], 'time')).toEqual([1732600002001.5, 1732600001000.9, 1732600000001.234]);
  });
});

describe('entries of any protocol', () => {
  const dns: EntrySummary = {
    ...fixture<{ entries: EntrySummary[] }>('entries').entries[0],
    id: 'dns-1', protocol: 'dns', protocolVersion: '', transport: 'udp', operation: 'A', target: 'shop.example', query: '', host: '',
    status: 3, statusText: 'NXDOMAIN', outcome: 2, fields: { 'dns.rcode': 3, 'dns.qname': 'shop.example' },
  };

  test('operation, target, status (a number), statusText, outcome by name, transport: the same columns for every protocol', () => {
    const noAnswer: EntrySummary = { ...dns, id: 'dns-2', status: 0, statusText: '', outcome: 0, unanswered: true };
    const f = entriesFrame([dns, noAnswer], { refId: 'A', timeField: 'start', links: [] });
    expect(f.fields.slice(0, 10).map((x) => [x.name, x.type])).toEqual([
      ['time', FieldType.time], ['id', FieldType.string], ['protocol', FieldType.string],
      ['operation', FieldType.string], ['target', FieldType.string], ['status', FieldType.number],
      ['statusText', FieldType.string], ['outcome', FieldType.string], ['latency', FieldType.number], ['source', FieldType.string],
    ]);
    expect(values(f, 'operation')).toEqual(['A', 'A']);
    expect(values(f, 'target')).toEqual(['shop.example', 'shop.example']);
    expect(values(f, 'status')).toEqual([3, 0]);
    expect(values(f, 'statusText')).toEqual(['NXDOMAIN', '']);
    expect(values(f, 'outcome')).toEqual(['client error', 'no response']);
    expect(values(f, 'transport')).toEqual(['udp', 'udp']);
    // The outcome's colours are the same for every protocol.
    expect(field(f, 'outcome').config.mappings).toEqual([
      {
        type: MappingType.ValueToText,
        options: {
          'no response': { index: 0 },
          ok: { color: 'green', index: 1 },
          'client error': { color: 'orange', index: 2 },
          'server error': { color: 'red', index: 3 },
          'one-way': { color: 'blue', index: 4 },
        },
      },
    ]);
  });

  test('the protocol field carries the hub’s registry: abbreviation and colour; no registry, no mappings', () => {
    const protocols = new ProtocolRegistry(fixture<ProtocolsJson>('protocols'));
    const f = entriesFrame([dns], { refId: 'A', timeField: 'start', links: [], protocols });
    expect(field(f, 'protocol').config.mappings).toEqual([{ type: MappingType.ValueToText, options: { http: { text: 'HTTP', color: '#205cc0', index: 0 } } }]);
    expect(values(f, 'protocol')).toEqual(['dns']); // the value stays the name: filters and links use it
    expect(field(entriesFrame([dns], { refId: 'A', timeField: 'start', links: [] }), 'protocol').config.mappings).toBeUndefined();
  });

  test('the registry is fetched once, through the proxy route, and put on entries, stream and entry frames', async () => {
    const [a] = await runAll(ds, request([{ refId: 'A', queryType: 'entries' }]));
    const [b] = await runAll(ds, request([{ refId: 'E', queryType: 'entry', entryId: '0193a1b2-0003-7000-8000-000000000003' }]));
    expect(hub.calls('/api/v1/protocols')).toHaveLength(1);
    expect(hub.calls('/api/v1/protocols')[0].headers.authorization).toBe('Bearer s3cret');
    for (const f of [a.data[0], b.data[0]] as DataFrame[]) {
      expect(field(f, 'protocol').config.mappings?.[0]).toMatchObject({ options: { http: { text: 'HTTP', color: '#205cc0' } } });
    }
    expect((await ds.getProtocols()).badge('http')).toEqual({ name: 'http', abbr: 'HTTP', color: '#205cc0', longName: 'Hypertext Transfer Protocol' });
    expect(hub.calls('/api/v1/protocols')).toHaveLength(1);
  });

  test('a hub that cannot list its protocols: entries still come, every protocol neutral, asked again next time', async () => {
    hub.on('GET', '/api/v1/protocols', { status: 500, body: { error: { code: 'internal', message: 'boom' } } });
    const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries' }]));
    expect(res.state).toBe(LoadingState.Done);
    expect(field(res.data[0], 'protocol').config.mappings).toBeUndefined();
    expect((await ds.getProtocols()).badge('http')).toEqual({ name: 'http', abbr: 'HTTP' });
    expect(hub.calls('/api/v1/protocols')).toHaveLength(2);
    // An older hub without the endpoint (404) is not asked again.
    hub.on('GET', '/api/v1/protocols', { status: 404, body: { error: { code: 'not_found', message: 'no route' } } });
    const old = new DataSource(rt.settings);
    await old.getProtocols();
    await old.getProtocols();
    expect(hub.calls('/api/v1/protocols')).toHaveLength(3);
  });
});

describe('stats', () => {
  test('buckets follow the panel: interval widened to respect max data points', async () => {
    // 1 h over 100 points = 36 s, wider than the 15 s interval Grafana proposed.
    await runAll(ds, request([{ refId: 'S', queryType: 'stats', groupBy: 'statusClass', metric: 'requests' }], { maxDataPoints: 100 }));
    await runAll(ds, request([{ refId: 'S', queryType: 'stats', groupBy: 'protocol' }], { intervalMs: 60_000 }));
    const [a, b] = hub.calls('/api/v1/stats');
    expect(a.query.get('interval')).toBe('36000');
    expect(a.query.get('groupBy')).toBe('statusClass');
    expect(a.query.get('metric')).toBe('requests');
    expect(a.query.get('q')).toBeNull();
    expect(b.query.get('interval')).toBe('60000');
    expect(b.query.get('groupBy')).toBe('protocol');
  });

  test('one time series frame per status class', async () => {
    const [res] = await runAll(ds, request([{ refId: 'S', queryType: 'stats', groupBy: 'statusClass', metric: 'requests' }]));
    expect(res.data.map((f: DataFrame) => f.name)).toEqual(['2xx', '4xx', '5xx']);
    const f = res.data[1] as DataFrame;
    expect(f.refId).toBe('S');
    expect(f.fields.map((x) => [x.name, x.type])).toEqual([
      ['time', FieldType.time],
      ['requests', FieldType.number],
    ]);
    expect(values(f, 'time')).toEqual([1732600020000, 1732600080000, 1732600140000]);
    expect(values(f, 'requests')).toEqual([1, 0, 3]);
    expect(field(f, 'requests').labels).toEqual({ statusClass: '4xx' });
    expect(field(f, 'requests').config.displayNameFromDS).toBe('4xx');
    expect(field(f, 'time').config.interval).toBe(60000);
  });

  test('latency quantiles: q sent, values in ms', async () => {
    const [res] = await runAll(ds, request([{ refId: 'L', queryType: 'stats', metric: 'latency', groupBy: 'none', quantiles: [0.5, 0.95] }]));
    expect(hub.calls('/api/v1/stats')[0].query.get('q')).toBe('0.5,0.95');
    expect(res.data.map((f: DataFrame) => f.name)).toEqual(['p50', 'p95']);
    const p95 = res.data[1] as DataFrame;
    expect(values(p95, 'latency')).toEqual([8.5, 9.75]);
    expect(field(p95, 'latency').config.unit).toBe('ms');
    expect(field(p95, 'latency').labels).toBeUndefined();
    await runAll(ds, request([{ refId: 'L', queryType: 'stats', metric: 'latency' }]));
    expect(hub.calls('/api/v1/stats')[1].query.get('q')).toBe('0.5,0.95,0.99');
  });
});

describe('service map', () => {
  test('nodes and edges frames as the node graph wants them', async () => {
    const [res] = await runAll(ds, request([{ refId: 'M', queryType: 'serviceMap' }]));
    const [nodes, edges] = res.data as DataFrame[];
    expect(nodes.name).toBe('nodes');
    expect(edges.name).toBe('edges');
    expect(nodes.meta?.preferredVisualisationType).toBe('nodeGraph');
    expect(edges.meta?.preferredVisualisationType).toBe('nodeGraph');
    expect(nodes.fields.map((f) => f.name)).toEqual([
      'id', 'title', 'subtitle', 'mainstat', 'secondarystat',
      'arc__Ok', 'arc__ClientError', 'arc__ServerError', 'arc__NoResponse', 'arc__OneWay',
      'detail__namespace', 'detail__requests', 'detail__errorRate', 'detail__p95',
    ]);
    expect(values(nodes, 'id')).toEqual(['default/test-pod', 'default/nginx']);
    expect(values(nodes, 'title')).toEqual(['test-pod', 'nginx']);
    expect(values(nodes, 'subtitle')).toEqual(['default', 'default']);
    expect(values(nodes, 'mainstat')).toEqual([0, 0.6667]);
    expect(field(nodes, 'mainstat').config.unit).toBe('reqps');
    expect(values(nodes, 'secondarystat')).toEqual([0, 3.2]);
    expect(field(nodes, 'secondarystat').config.unit).toBe('ms');
    // Arcs by outcome, the same for every protocol: for HTTP 2xx and 3xx are ok, 4xx client, 5xx server errors.
    expect(values(nodes, 'arc__Ok')).toEqual([0, 0.85]);
    expect(values(nodes, 'arc__ClientError')).toEqual([0, 0.1]);
    expect(values(nodes, 'arc__ServerError')).toEqual([0, 0.05]);
    // Arcs of an active node add up to the whole ring.
    const arcSum = ['arc__Ok', 'arc__ClientError', 'arc__ServerError', 'arc__NoResponse', 'arc__OneWay'].reduce((s, n) => s + (values(nodes, n)[1] as number), 0);
    expect(arcSum).toBeCloseTo(1, 9);
    expect(field(nodes, 'arc__ServerError').config.color).toEqual({ mode: 'fixed', fixedColor: 'red' });
    expect(field(nodes, 'arc__Ok').config.color).toEqual({ mode: 'fixed', fixedColor: 'green' });
    expect(field(nodes, 'arc__ClientError').config).toMatchObject({ displayName: 'client error' });
    expect(values(nodes, 'detail__requests')).toEqual([0, 40]);
    expect(field(nodes, 'detail__requests').config.displayName).toBe('Requests');

    expect(edges.fields.map((f) => f.name)).toEqual([
      'id', 'source', 'target', 'mainstat', 'secondarystat', 'detail__requests', 'detail__protocols', 'detail__errorRate', 'detail__p95',
    ]);
    expect(values(edges, 'id')).toEqual(['default/test-pod->default/nginx']);
    expect(values(edges, 'source')).toEqual(['default/test-pod']);
    expect(values(edges, 'target')).toEqual(['default/nginx']);
    expect(values(edges, 'detail__protocols')).toEqual(['http']);
  });

  test('error rate as the second stat', async () => {
    const [res] = await runAll(ds, request([{ refId: 'M', queryType: 'serviceMap', secondaryStat: 'errorRate' }]));
    const [nodes, edges] = res.data as DataFrame[];
    expect(values(nodes, 'secondarystat')).toEqual([0, 0.125]);
    expect(field(nodes, 'secondarystat').config.unit).toBe('percentunit');
    expect(values(edges, 'secondarystat')).toEqual([0.125]);
  });
});

test('catalog: one row per service', async () => {
  const [res] = await runAll(ds, request([{ refId: 'C', queryType: 'catalog', filter: 'http' }]));
  expect(hub.calls('/api/v1/catalog')[0].query.get('filter')).toBe('http');
  const f = res.data[0] as DataFrame;
  expect(f.fields.map((x) => x.name)).toEqual(['service', 'namespace', 'requests', 'succeeded', 'failed', 'avg', 'p95', 'protocols']);
  expect(values(f, 'service')).toEqual(['nginx', 'api']);
  expect(values(f, 'namespace')).toEqual(['default', 'shop']);
  expect(values(f, 'requests')).toEqual([40, 7]);
  expect(values(f, 'succeeded')).toEqual([35, 7]);
  expect(values(f, 'failed')).toEqual([5, 0]);
  expect(values(f, 'avg')).toEqual([1.25, 12.5]);
  expect(values(f, 'p95')).toEqual([3.2, 30]);
  expect(values(f, 'protocols')).toEqual(['http', 'http, grpc']);
  expect(field(f, 'avg').config.unit).toBe('ms');
});

test("top values: the field's values with the catalog's figures, the field named as asked", async () => {
  const [res] = await runAll(ds, request([{ refId: 'T', queryType: 'top', by: 'dns.qname', sort: 'failed', limit: 5, filter: 'dns' }]));
  const call = hub.calls('/api/v1/top')[0].query;
  expect([call.get('by'), call.get('sort'), call.get('limit'), call.get('filter')]).toEqual(['dns.qname', 'failed', '5', 'dns']);
  const f = res.data[0] as DataFrame;
  expect(f.fields.map((x) => x.name)).toEqual(['dns.qname', 'requests', 'succeeded', 'failed', 'avg', 'p95', 'protocols']);
  expect(values(f, 'dns.qname')).toEqual(['nginx.default.svc.cluster.local', 'nginx.default.default.svc.cluster.local']);
  expect(values(f, 'failed')).toEqual([2, 60]);
  expect(f.meta?.preferredVisualisationType).toBe('table');
  const [missing] = await runAll(ds, request([{ refId: 'T', queryType: 'top', by: ' ' }]));
  expect(missing.errors?.[0].message).toMatch(/No field to list the top values of/);
  expect(hub.calls('/api/v1/top')).toHaveLength(1);
});

test('stats grouped by a field: the field and top sent, series labelled by the field', async () => {
  await runAll(ds, request([{ refId: 'S', queryType: 'stats', groupBy: 'dns.rcode', top: 5 }]));
  const call = hub.calls('/api/v1/stats')[0].query;
  expect([call.get('groupBy'), call.get('top')]).toEqual(['dns.rcode', '5']);
  const [empty] = await runAll(ds, request([{ refId: 'S', queryType: 'stats', groupBy: '' }]));
  expect(empty.errors?.[0].message).toMatch(/name the field/);
});

describe('entry', () => {
  test('one entry in full, id from a dashboard variable', async () => {
    rt.templates.variables.entry = '0193a1b2-0003-7000-8000-000000000003';
    const [res] = await runAll(ds, request([{ refId: 'E', queryType: 'entry', entryId: '$entry' }]));
    expect(hub.calls('/api/v1/entries/0193a1b2-0003-7000-8000-000000000003')).toHaveLength(1);
    const [entry, headers] = res.data as DataFrame[];
    expect(entry.length).toBe(1);
    expect(values(entry, 'status')).toEqual([404]);
    expect(values(entry, 'statusText')).toEqual(['Not Found']);
    expect(values(entry, 'end')).toEqual([1732600002001.5]);
    expect(values(entry, 'request.headers')).toEqual(['Host: nginx.default\nUser-Agent: curl/8.5.0\nAccept: */*']);
    expect(values(entry, 'response.body')[0]).toContain('<h1>404 Not Found</h1>');
    expect(values(entry, 'response.contentType')).toEqual(['text/html']);
    expect(values(entry, 'response.wireSize')).toEqual([153]);
    expect(headers.fields.map((f) => f.name)).toEqual(['side', 'name', 'value']);
    expect(values(headers, 'side')).toEqual(['request', 'request', 'request', 'response', 'response', 'response']);
    expect(values(headers, 'name')[4]).toBe('Content-Type');
    expect(values(headers, 'value')[4]).toBe('text/html');
  });

  test('a binary body is shown as base64, with its sizes and truncation', async () => {
    const [res] = await runAll(ds, request([{ refId: 'E', queryType: 'entry', entryId: '0193a1b2-0004-7000-8000-000000000004' }]));
    const [entry] = res.data as DataFrame[];
    expect(values(entry, 'request.body')).toEqual(['base64:AAH+/w==']);
    expect(values(entry, 'request.encoding')).toEqual(['gzip']);
    expect(values(entry, 'request.wireSize')).toEqual([24]);
    expect(values(entry, 'request.truncated')).toEqual([true]);
    expect(values(entry, 'response.body')).toEqual(['']);
  });

  test('no id: an error that says what to do, and no hub call', async () => {
    const [res] = await runAll(ds, request([{ refId: 'E', queryType: 'entry', entryId: '' }]));
    expect(res.state).toBe(LoadingState.Error);
    expect(res.errors?.[0].message).toMatch(/No entry id/);
    expect(hub.requests).toHaveLength(0);
  });
});

describe('errors', () => {
  test('a bad filter comes back with its column', async () => {
    hub.on('GET', '/api/v1/entries', {
      status: 400,
      body: { error: { code: 'bad_filter', message: "unknown field 'stauts'", position: 1 } },
    });
    const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries', filter: 'stauts == 404' }]));
    expect(res.state).toBe(LoadingState.Error);
    expect(res.errors).toEqual([{ refId: 'A', message: "unknown field 'stauts' (at column 1)" }]);
  });

  test('a hub that is gone is reported as unreachable', async () => {
    await hub.stop();
    const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'catalog' }]));
    expect(res.state).toBe(LoadingState.Error);
    expect(res.errors?.[0].message).toMatch(/Tapline hub is unreachable \(HTTP 502/);
    hub = await RecordedHub.start(); // for afterEach
  });

  test('several queries: each answers under its own key, one failing does not hide the others', async () => {
    hub.on('GET', '/api/v1/servicemap', { status: 503, body: { error: { code: 'store_unavailable', message: 'store is down' } } });
    const packets = await runAll(ds, request([{ refId: 'C', queryType: 'catalog' }, { refId: 'M', queryType: 'serviceMap' }]));
    const byKey = Object.fromEntries(packets.map((p) => [p.key, p]));
    expect(byKey.C.state).toBe(LoadingState.Done);
    expect(byKey.C.data[0].name).toBe('catalog');
    expect(byKey.M.state).toBe(LoadingState.Error);
    expect(byKey.M.errors?.[0].message).toBe('store is down');
  });
});
