/**
 * The drawer half of issue 15's acceptance test ("Many protocols, one house"): two protocols that
 * exist only in the tests (test/support/line-protocols.ts: `tline` over TCP, `tquery` over UDP)
 * are registered at run time in a real `tapline up`-like process (test/support/line-protocols-up.ts:
 * embedded store, libpcap on loopback, the hub), which makes real traffic of both and prints
 * `hub <url>` once it is stored (needs root, like the other capture tests). The plugin reads the
 * registry and the entries through its own DataSource (Grafana's runtime is the only stand-in),
 * and its drawer and rows show them with no line about either protocol anywhere in plugin/src.
 */
import { render, screen, within } from '@testing-library/react';
import { createTheme, type DataFrame } from '@grafana/data';
import { DataSource } from '../../src/datasource/datasource';
import { EntryDrawer } from '../../src/panel/components/EntryDrawer';
import { StreamList } from '../../src/panel/components/StreamList';
import { addClause, filterClause } from '../../src/panel/filterClick';
import { frameSource } from '../../src/panel/rows';
import { installGrafanaRuntimeStandIns, timeRange } from '../support/grafana-runtime-standins';
import { request, runAll } from '../support/requests';
import { stopProcess, tsxProgram, waitForLine, type TaplineProcess } from '../support/tapline-process';

jest.setTimeout(60_000);

/** What line-protocols-up's tline client sends as AUTH's password: must never reach the plugin. */
const TLINE_SECRET = 'hunter2-secret';
const theme = createTheme();

let up: TaplineProcess | undefined;
let ds: DataSource;
const range = () => timeRange(Date.now() - 3_600_000, Date.now() + 60_000);
const values = (f: DataFrame, name: string) => [...(f.fields.find((x) => x.name === name)?.values ?? [])];

async function entries(filter: string): Promise<DataFrame> {
  const [res] = await runAll(ds, request([{ refId: 'A', queryType: 'entries', filter, limit: 100 }], { range: range() }));
  expect(res.errors).toBeUndefined();
  return res.data[0] as DataFrame;
}

beforeAll(async () => {
  up = tsxProgram('test/support/line-protocols-up.ts');
  const [, url] = await waitForLine(up, /^hub (http\S+)$/, 150_000);
  ds = new DataSource(installGrafanaRuntimeStandIns({ hubUrl: url }).settings);
}, 180_000);

afterAll(async () => {
  // The program runs until SIGTERM, sent to its PID.
  await stopProcess(up, 15_000, 'SIGTERM');
});

const regions = () => screen.getAllByRole('region').map((r) => r.getAttribute('aria-label'));
const rows = (title: string) =>
  [...screen.getByRole('region', { name: title }).querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));

test('the registry read through the data source has both protocols, with their badges', async () => {
  const registry = await ds.getProtocols();
  expect(registry.badge('tline')).toEqual({ name: 'tline', abbr: 'TLINE', color: '#8e44ad', longName: 'Test line protocol' });
  expect(registry.badge('tquery')).toEqual({ name: 'tquery', abbr: 'TQ', color: '#16a085', longName: 'Test query protocol' });
  expect(registry.info('tline')?.transports).toEqual(['tcp']);
  expect(registry.info('tquery')?.transports).toEqual(['udp']);
  expect(registry.json?.outcomes).toEqual(['no response', 'ok', 'client error', 'server error', 'one-way']);
});

test('entries of both protocols in the same columns: operation, target, status, outcome, transport', async () => {
  const f = await entries('tline or tquery');
  const byTarget = new Map(values(f, 'target').map((t, i) => [t as string, i]));
  const row = (target: string) => ['protocol', 'operation', 'status', 'outcome', 'transport'].map((n) => values(f, n)[byTarget.get(target)!]);
  expect(row('user:1')).toEqual(['tline', 'GET', 200, 'ok', 'tcp']);
  expect(row('nokey')).toEqual(['tline', 'GET', 404, 'client error', 'tcp']);
  expect(row('cart')).toEqual(['tline', 'SET', 507, 'server error', 'tcp']);
  expect(row('forever')).toEqual(['tline', 'DEL', 0, 'no response', 'tcp']);
  expect(row('nope.example')).toEqual(['tquery', 'Q', 3, 'client error', 'udp']);
  expect(values(f, 'statusText')[byTarget.get('nope.example')!]).toBe('NONAME');
  expect(f.fields.find((x) => x.name === 'protocol')?.config.mappings?.[0]).toMatchObject({
    options: { tline: { text: 'TLINE', color: '#8e44ad' }, tquery: { text: 'TQ', color: '#16a085' } },
  });
  expect(JSON.stringify(values(f, 'target'))).not.toContain(TLINE_SECRET);

  // The rows as the stream panel draws them: each protocol in its colour, each outcome in its own.
  render(
    <StreamList
      rows={frameSource(f, 100, true)}
      columns={['protocol', 'operation', 'target', 'status']}
      width={800}
      height={600}
      latencyWarnMs={250}
      latencyCritMs={1000}
      onSelect={() => {}}
      onUserScroll={() => {}}
    />,
  );
  const drawn = (target: string) => screen.getAllByRole('row').find((r) => r.textContent?.includes(target))!;
  expect(within(drawn('user:1')).getByText('TLINE')).toHaveStyle({ backgroundColor: '#8e44ad' });
  expect(within(drawn('a.example')).getByText('TQ')).toHaveStyle({ backgroundColor: '#16a085' });
  expect(drawn('cart').querySelector('[data-outcome]')).toHaveStyle({ color: theme.visualization.getColorByName('red') });
  expect(drawn('nokey').querySelector('[data-outcome]')).toHaveStyle({ color: theme.visualization.getColorByName('orange') });
  expect(drawn('forever').querySelector('[data-outcome]')).toHaveTextContent('—');
});

test('the drawer shows a tline entry as its descriptor represents it, with its badge, and no curl', async () => {
  const [id] = values(await entries('tline and target == "user:1"'), 'id') as string[];
  expect(id).toBeTruthy();
  render(<EntryDrawer id={id} source={Promise.resolve(ds)} onClose={() => {}} />);
  expect(await screen.findByText('GET user:1 → 200 alice')).toBeInTheDocument();
  const badge = within(screen.getByRole('dialog')).getByText('TLINE', { selector: '[data-protocol]' });
  expect(badge).toHaveStyle({ backgroundColor: '#8e44ad' });

  expect(regions()).toEqual(expect.arrayContaining(['Request', 'Reply', 'Fields', 'Timing', 'Connection']));
  expect(rows('Request')).toEqual([['Verb', 'GET'], ['Key', 'user:1']]);
  expect(rows('Reply')).toEqual([['Code', '200'], ['Text', 'alice']]);
  expect(rows('Fields')).toEqual([['tline.key', 'user:1'], ['tline.args', '0'], ['tline.code', '200']]);
  expect(screen.queryByRole('button', { name: /Copy as curl/ })).not.toBeInTheDocument();
  expect(screen.getByText(/ tline\/1 over tcp /)).toBeInTheDocument();
});

test('the AUTH entry’s key shows [REDACTED]; the password is nowhere in the drawer', async () => {
  const [id] = values(await entries('tline and operation == "AUTH"'), 'id') as string[];
  render(<EntryDrawer id={id} source={Promise.resolve(ds)} onClose={() => {}} />);
  expect(await screen.findByText('AUTH [REDACTED] → 200 welcome')).toBeInTheDocument();
  expect(rows('Request')).toEqual([['Verb', 'AUTH'], ['Key', '[REDACTED]']]);
  expect(rows('Fields')).toEqual([['tline.key', '[REDACTED]'], ['tline.args', '0'], ['tline.code', '200']]);
  expect(document.body.textContent).not.toContain(TLINE_SECRET);
});

test('the clauses "+" writes for these entries are filters the hub accepts and answers', async () => {
  const filter = [filterClause('operation', 'SET', false), filterClause('outcome', 'server error', false), filterClause('status', 507, false)].reduce(
    (f, c) => addClause(f, c),
    'tline',
  );
  expect(filter).toBe('tline and operation == "SET" and outcome == "server error" and status == 507');
  expect(await ds.validateFilter(filter)).toEqual({ valid: true });
  expect(values(await entries(filter), 'target')).toEqual(['cart']);
  expect(values(await entries(addClause('tquery', filterClause('target', 'lost.example', false))), 'outcome')).toEqual(['no response']);
});
