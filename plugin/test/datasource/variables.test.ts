/**
 * Template variables, ad-hoc filters and "Save & test", against recorded hub answers on loopback.
 */
import { DataSource } from '../../src/datasource/datasource';
// The hub's real lexer (backend workspace), to check the literals the plugin writes.
import { tokenize } from '../../../backend/src/query/lexer';
import { adHocClause, combineFilters, formatVariableValue } from '../../src/datasource/filter';
import { installGrafanaRuntimeStandIns, timeRange, type StandIns } from '../support/grafana-runtime-standins';
import { fixture, RecordedHub } from '../support/recorded-hub';
import { FROM_MS, request, runAll, TO_MS } from '../support/requests';

let hub: RecordedHub;
let rt: StandIns;
let ds: DataSource;

beforeEach(async () => {
  hub = await RecordedHub.start();
  hub
    .on('GET', '/api/v1/catalog', { body: { services: [] } })
    .on('GET', '/api/v1/filter/completions', { body: fixture('completions') })
    .on('GET', '/api/v1/labels/namespace', { body: { values: ['default', 'kube-system'] } })
    .on('GET', '/api/v1/labels/service', { body: { values: ['nginx', 'api'] } })
    .on('GET', '/api/v1/health', { body: fixture('health-ok') });
  rt = installGrafanaRuntimeStandIns({ hubUrl: hub.url, token: 't' });
  ds = new DataSource(rt.settings);
});

afterEach(async () => {
  await hub.stop();
});

const sentFilter = () => hub.calls('/api/v1/catalog').at(-1)?.query.get('filter');

describe('variables in filters', () => {
  test('one value becomes a quoted string, a multi-value a list, :raw stays raw', async () => {
    rt.templates.variables = { ns: 'default', svc: ['nginx', 'api'], code: '404' };
    await runAll(ds, request([{ refId: 'A', queryType: 'catalog', filter: 'dst.namespace == $ns and dst.service in ${svc} and status == ${code:raw}' }]));
    expect(sentFilter()).toBe('dst.namespace == "default" and dst.service in ["nginx", "api"] and status == 404');
  });

  test('quotes, backslashes and newlines cannot break out of the literal', async () => {
    rt.templates.variables = { p: 'a" or true or path == "\\x\n' };
    await runAll(ds, request([{ refId: 'A', queryType: 'catalog', filter: 'path == $p' }]));
    expect(sentFilter()).toBe('path == "a\\" or true or path == \\"\\\\x\\n"');
  });

  test('every literal reads back as the same value through the filter language’s own lexer', () => {
    const nasty = ['plain', 'a"b', "it's", 'back\\slash\\', 'new\nline\ttab\r', '\u0001\u001f ctl', 'ünï©ødé 🚀', '\ud800 lone', '$notavar', ''];
    for (const v of nasty) {
      const tokens = tokenize(`path == ${formatVariableValue(v)}`);
      expect(tokens.map((t) => t.kind)).toEqual(['ident', 'op', 'string', 'eof']);
      expect(tokens[2].text).toBe(v);
    }
    const list = tokenize(`path in ${formatVariableValue(nasty)}`).filter((t) => t.kind === 'string');
    expect(list.map((t) => t.text)).toEqual(nasty);
  });

  test('the format function on its own', () => {
    expect(formatVariableValue('default')).toBe('"default"');
    expect(formatVariableValue(['a', 'b"c'])).toBe('["a", "b\\"c"]');
    expect(formatVariableValue([])).toBe('[]');
    expect(formatVariableValue('tab\there')).toBe('"tab\\there"');
  });

  test('validation sees the filter as the hub will: variables replaced first', async () => {
    hub.on('POST', '/api/v1/filter/validate', (r) => {
      const { filter } = r.body as { filter: string };
      return filter === 'status == "404"'
        ? { body: { valid: false, error: { message: 'response.status is a status code: expected 404 or 4xx at column 11', position: 11 } } }
        : { body: { valid: true } };
    });
    rt.templates.variables = { code: '404' };
    expect(await ds.validateFilter('status == ${code:raw}')).toEqual({ valid: true });
    expect(await ds.validateFilter('status == $code')).toEqual({
      valid: false,
      error: { message: 'response.status is a status code: expected 404 or 4xx at column 11 (with variables replaced: status == "404")', position: 11 },
    });
    expect(hub.calls('/api/v1/filter/validate').map((c) => c.body)).toEqual([{ filter: 'status == 404' }, { filter: 'status == "404"' }]);
  });

  test('metricFindQuery lists a label over the dashboard range', async () => {
    const values = await ds.metricFindQuery('namespace', { range: timeRange(FROM_MS, TO_MS) });
    expect(values).toEqual([
      { text: 'default', value: 'default' },
      { text: 'kube-system', value: 'kube-system' },
    ]);
    const [call] = hub.calls('/api/v1/labels/namespace');
    expect(call.query.get('from')).toBe(String(FROM_MS));
    expect(call.query.get('to')).toBe(String(TO_MS));
  });

  test('metricFindQuery names the labels it knows when given another', async () => {
    await expect(ds.metricFindQuery('nodes')).rejects.toThrow(
      "Unknown Tapline variable query 'nodes': use one of namespace, service, pod, protocol, operation, method, status, outcome",
    );
    expect(hub.requests).toHaveLength(0);
  });
});

describe('ad-hoc filters', () => {
  test('become clauses typed by the hub’s field table, joined to the query filter with and', async () => {
    await runAll(
      ds,
      request([{ refId: 'A', queryType: 'catalog', filter: 'http or grpc' }], {
        filters: [
          { key: 'dst.service', operator: '=', value: 'nginx' },
          { key: 'status', operator: '>=', value: '400' },
          { key: 'latency', operator: '>', value: '250ms' },
          { key: 'src.ip', operator: '!=', value: '10.0.0.1' },
          { key: 'dst.namespace', operator: '=|', value: '', values: ['default', 'shop'] },
          { key: 'unanswered', operator: '=', value: 'true' },
        ],
      }),
    );
    expect(sentFilter()).toBe(
      '(http or grpc) and (dst.service == "nginx") and (status >= 400) and (latency > 250ms) and (src.ip != "10.0.0.1") and (dst.namespace in ["default", "shop"]) and (unanswered == true)',
    );
  });

  test('a value that does not fit the field type is quoted (the hub then says why)', () => {
    const typeOf = (k: string) => ({ status: 'status', latency: 'duration' })[k];
    expect(adHocClause({ key: 'status', operator: '=', value: '40' }, typeOf)).toBe('status == 40');
    expect(adHocClause({ key: 'status', operator: '=', value: '4xx' }, typeOf)).toBe('status == 4xx');
    expect(adHocClause({ key: 'status', operator: '=', value: 'abc' }, typeOf)).toBe('status == "abc"');
    expect(adHocClause({ key: 'latency', operator: '<', value: '1 s' }, typeOf)).toBe('latency < "1 s"');
  });

  test('keys and operators that are not the filter language are refused with a reason', () => {
    expect(() => adHocClause({ key: 'a b', operator: '=', value: 'x' }, () => undefined)).toThrow("ad-hoc filter key 'a b' is not a filter field");
    expect(() => adHocClause({ key: 'path', operator: '~~', value: 'x' }, () => undefined)).toThrow(/operator '~~' on 'path' is not supported/);
  });

  test('combineFilters leaves a single filter alone and skips blanks', () => {
    expect(combineFilters(['http', '', undefined, '  '])).toBe('http');
    expect(combineFilters([])).toBe('');
    expect(combineFilters(['a or b', 'c'])).toBe('(a or b) and (c)');
  });

  test('tag keys are the hub’s fields (keyed ones left out); values come from labels', async () => {
    const keys = await ds.getTagKeys({ filters: [] });
    expect(keys.map((k) => k.text)).toEqual(['dst.service', 'dst.namespace', 'src.ip', 'response.status', 'status', 'latency', 'unanswered']);
    const values = await ds.getTagValues({ key: 'dst.service', filters: [], timeRange: timeRange(FROM_MS, TO_MS) });
    expect(values.map((v) => v.text)).toEqual(['nginx', 'api']);
    expect(await ds.getTagValues({ key: 'latency', filters: [] })).toEqual([]);
  });

  test('operation (or its old name method) and outcome values come from the hub’s labels of the same names', async () => {
    hub.on('GET', '/api/v1/labels/operation', { body: { values: ['GET', 'Q'] } }).on('GET', '/api/v1/labels/outcome', { body: { values: ['ok', 'server error'] } });
    expect((await ds.getTagValues({ key: 'operation', filters: [] })).map((v) => v.text)).toEqual(['GET', 'Q']);
    expect((await ds.getTagValues({ key: 'method', filters: [] })).map((v) => v.text)).toEqual(['GET', 'Q']);
    expect((await ds.getTagValues({ key: 'outcome', filters: [] })).map((v) => v.text)).toEqual(['ok', 'server error']);
    expect((await ds.metricFindQuery('outcome')).map((v) => v.text)).toEqual(['ok', 'server error']);
    expect(hub.calls('/api/v1/labels/method')).toHaveLength(0);
  });
});

describe('Save & test', () => {
  test('a healthy hub: store and capture described in words', async () => {
    const r = await ds.testDatasource();
    expect(r.status).toBe('success');
    expect(r.message).toBe(
      'Connected to the Tapline hub 0.1.0. Store: reachable, 12,345 entries stored. Capture: running (98,765 packets, 4,321 entries, 0 dropped so far).',
    );
  });

  test('a hub whose store is down: a warning that says what breaks', async () => {
    hub.on('GET', '/api/v1/health', { body: fixture('health-store-down') });
    const r = await ds.testDatasource();
    expect(r.status).toBe('warning');
    expect(r.message).toContain('Store: unreachable (connect ECONNREFUSED 127.0.0.1:8123). Queries fail until the hub can reach ClickHouse again.');
    expect(r.message).toContain('Capture: no agent runs in this hub');
  });

  test('a hub whose store is down answers 503 with its report: described, not called unreachable', async () => {
    hub.on('GET', '/api/v1/health', { status: 503, body: fixture('health-down') });
    const r = await ds.testDatasource();
    expect(r.status).toBe('error');
    expect(r.message).toBe(
      'The Tapline hub 0.1.0 answers, but reports itself down. Store: unreachable (the store is unreachable: connect ECONNREFUSED 127.0.0.1:8123). Queries fail until the hub can reach ClickHouse again. Capture: running (10 packets, 2 entries, 0 dropped so far).',
    );
  });

  test('a refused token', async () => {
    hub.on('GET', '/api/v1/health', { status: 401, body: { error: { code: 'unauthorized', message: 'bad token' } } });
    const r = await ds.testDatasource();
    expect(r.status).toBe('error');
    expect(r.message).toMatch(/^The hub refused the token/);
  });

  test('no hub at the URL', async () => {
    await hub.stop();
    const r = await ds.testDatasource();
    expect(r.status).toBe('error');
    expect(r.message).toMatch(new RegExp(`^Grafana could not reach the Tapline hub at ${hub.url}: the Tapline hub is unreachable`));
    hub = await RecordedHub.start();
  });
});
