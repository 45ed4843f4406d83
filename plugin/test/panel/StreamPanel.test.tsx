/**
 * The stream panel with Testing Library, fed frames made by the data source's own frame code, its
 * drawer loading entries through the real DataSource from recorded hub answers on loopback.
 */
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createTheme, getDefaultTimeRange, LoadingState, type PanelData, type PanelProps } from '@grafana/data';
import { DataSource } from '../../src/datasource/datasource';
import { appendEntries, streamFrame } from '../../src/datasource/frames';
import { ProtocolRegistry } from '../../src/datasource/protocols';
import type { EntriesResponse, EntrySummary, ProtocolsJson } from '../../src/datasource/types';
import { StreamPanel } from '../../src/panel/components/StreamPanel';
import { DEFAULT_OPTIONS, type StreamOptions } from '../../src/panel/types';
import { installGrafanaRuntimeStandIns, installPanelStandIns, type LocationServiceStandIn, type StandIns } from '../support/grafana-runtime-standins';
import { fixture, RecordedHub } from '../support/recorded-hub';

let hub: RecordedHub;
let rt: StandIns;
let location: LocationServiceStandIn;

const history = fixture<EntriesResponse>('entries').entries; // newest first: 404, 200, 200
const make = (n: number, patch: Partial<EntrySummary> = {}): EntrySummary => ({
  ...history[1],
  id: `e-${n}`,
  target: `/p/${n}`,
  startUs: 1732600000000000 + n * 1000,
  ...patch,
});

const theme = createTheme();
const color = (name: string) => theme.visualization.getColorByName(name);
/** The hub's registry as recorded (HTTP), plus a protocol of a test's own. */
const recorded = fixture<ProtocolsJson>('protocols');
const protocols = new ProtocolRegistry({
  ...recorded,
  protocols: [...recorded.protocols, { ...recorded.protocols[0], name: 'tquery', longName: 'Test query protocol', abbr: 'TQ', color: '#16a085', transports: ['udp'], ports: [] }],
});

/** The frame the Live stream query would have produced after receiving `entries` (oldest first). */
function streamData(entries: EntrySummary[], state = LoadingState.Streaming, registry = protocols): PanelData {
  const frame = streamFrame('A', 20_000, registry);
  appendEntries(frame, entries, 'start');
  return {
    state,
    series: [frame],
    timeRange: getDefaultTimeRange(),
    request: { targets: [{ refId: 'A', datasource: { type: 'tapline-traffic-datasource', uid: 'tapline-test' } }] } as PanelData['request'],
  };
}

function props(data: PanelData, options: Partial<StreamOptions> = {}): PanelProps<StreamOptions> {
  return {
    data,
    options: { ...DEFAULT_OPTIONS, ...options },
    width: 900,
    height: 500,
    id: 1,
    timeZone: 'utc',
    transparent: false,
    title: 'Live',
    renderCounter: 0,
    fieldConfig: { defaults: {}, overrides: [] },
    timeRange: data.timeRange,
    replaceVariables: (s: string) => s,
    onOptionsChange: () => {},
    onFieldConfigChange: () => {},
    onChangeTimeRange: () => {},
    eventBus: {} as PanelProps['eventBus'],
  } as PanelProps<StreamOptions>;
}

const dataRows = () => screen.getAllByRole('row').filter((r) => r.hasAttribute('data-entry-id'));
const ids = () => dataRows().map((r) => r.getAttribute('data-entry-id'));

beforeEach(async () => {
  hub = await RecordedHub.start();
  hub.on('GET', '/api/v1/entries/:id', { body: fixture('entry-404') }).on('GET', '/api/v1/protocols', { body: recorded });
  rt = installGrafanaRuntimeStandIns({ hubUrl: hub.url, variables: { filter: 'http' } });
  location = installPanelStandIns(new DataSource(rt.settings));
});

afterEach(async () => {
  await hub.stop();
});

test('rows newest first, status coloured by outcome, names shown with the IP on hover', () => {
  render(<StreamPanel {...props(streamData([...history].reverse()))} />);
  expect(screen.getByLabelText('stream state')).toHaveTextContent('● Live');
  expect(ids()).toEqual(history.map((e) => e.id));
  const first = dataRows()[0];
  // HTTP looks as it did: a 404 is a client error, in the 4xx orange; 200s are ok, in green.
  expect(within(first).getByText('404')).toHaveAttribute('data-outcome', 'client error');
  expect(within(first).getByText('404')).toHaveStyle({ color: color('orange') });
  expect(within(first).getByText('404')).toHaveAttribute('title', '404 Not Found · client error');
  expect(within(dataRows()[1]).getByText('200')).toHaveStyle({ color: color('green') });
  expect(within(first).getByText('HTTP')).toHaveStyle({ backgroundColor: '#205cc0' });
  expect(within(first).getByText('GET')).toBeInTheDocument();
  expect(within(first).getByText('/error.html')).toBeInTheDocument();
  expect(within(first).getByText('nginx').closest('[title]')).toHaveAttribute('title', '10.96.12.3:80 (default)');
  expect(within(dataRows()[2]).getByText('10.96.12.3:80')).toBeInTheDocument();
});

test('rows of two protocols: each protocol in its registry colour, each outcome in its colour', () => {
  const q = (n: number, patch: Partial<EntrySummary>): EntrySummary => ({
    ...make(n), protocol: 'tquery', transport: 'udp', operation: 'Q', protocolVersion: '1', host: '', query: '', ...patch,
  });
  const entries = [
    make(1, { status: 503, statusText: 'Service Unavailable', outcome: 3 }),
    q(2, { target: 'a.example', status: 0, statusText: 'OK', outcome: 1 }),
    q(3, { target: 'nope.example', status: 3, statusText: 'NONAME', outcome: 2 }),
    q(4, { target: 'lost.example', status: 0, statusText: '', outcome: 0, unanswered: true }),
    make(5, { protocol: 'smtp', operation: 'MAIL', target: 'a@b', status: 250, statusText: 'OK', outcome: 1 }),
  ];
  render(<StreamPanel {...props(streamData(entries), { columns: ['protocol', 'operation', 'target', 'status', 'outcome'] })} />);
  const row = (id: string) => dataRows().find((r) => r.getAttribute('data-entry-id') === id)!;
  const cells = (id: string) => within(row(id)).getAllByRole('cell');
  expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['Protocol', 'Operation', 'Target', 'Status', 'Outcome']);

  expect(within(row('e-1')).getByText('HTTP')).toHaveStyle({ backgroundColor: '#205cc0' });
  for (const id of ['e-2', 'e-3', 'e-4']) expect(within(row(id)).getByText('TQ')).toHaveStyle({ backgroundColor: '#16a085' });
  // A protocol the registry does not know: its name, no colour of its own.
  const smtp = within(row('e-5')).getByText('SMTP');
  expect(smtp).toHaveAttribute('data-protocol', 'smtp');
  expect(smtp.style.backgroundColor).toBe('');
  expect(smtp).toHaveStyle({ color: theme.colors.text.secondary });

  const status = (id: string) => cells(id)[3].querySelector('[data-outcome]') as HTMLElement;
  expect([1, 2, 3, 4, 5].map((n) => [status(`e-${n}`).textContent, status(`e-${n}`).getAttribute('data-outcome')])).toEqual([
    ['503', 'server error'],
    ['OK', 'ok'], // no code: its status text
    ['3', 'client error'],
    ['—', 'no response'],
    ['250', 'ok'],
  ]);
  expect(status('e-1')).toHaveStyle({ color: color('red') });
  expect(status('e-2')).toHaveStyle({ color: color('green') });
  expect(status('e-3')).toHaveStyle({ color: color('orange') });
  expect(status('e-3')).toHaveAttribute('title', '3 NONAME · client error');
  expect(status('e-4')).toHaveStyle({ color: theme.colors.text.secondary });
  expect(cells('e-3')[4]).toHaveTextContent('client error');
  expect(cells('e-3')[4].querySelector('[data-outcome]')).toHaveStyle({ color: color('orange') });
  expect(cells('e-3')[2]).toHaveTextContent('nope.example');
});

test('a streaming frame grown in place (same object, new packet) shows its new rows', () => {
  const frame = streamFrame('A', 100);
  appendEntries(frame, [make(1)], 'start');
  const packet = (): PanelData => ({ state: LoadingState.Streaming, series: [frame], timeRange: getDefaultTimeRange() });
  const { rerender } = render(<StreamPanel {...props(packet())} />);
  expect(ids()).toEqual(['e-1']);
  appendEntries(frame, [make(2)], 'start');
  rerender(<StreamPanel {...props(packet())} />);
  expect(ids()).toEqual(['e-2', 'e-1']);
});

test('10,000 rows: only a window of them is in the DOM', () => {
  const many = Array.from({ length: 10_000 }, (_, i) => make(i));
  render(<StreamPanel {...props(streamData(many))} />);
  expect(screen.getByText('10,000 rows')).toBeInTheDocument();
  expect(dataRows().length).toBeGreaterThan(5);
  expect(dataRows().length).toBeLessThan(60);
  expect(ids()[0]).toBe('e-9999');
});

test('pause holds the view while the counter grows; resume shows the new rows on top', async () => {
  const first = [make(1), make(2)];
  const { rerender } = render(<StreamPanel {...props(streamData(first))} />);
  await userEvent.click(screen.getByRole('button', { name: /Pause/ }));
  expect(screen.getByLabelText('stream state')).toHaveTextContent('Paused');
  expect(screen.getByLabelText('new while paused')).toHaveTextContent('0 new');

  rerender(<StreamPanel {...props(streamData([...first, make(3)]))} />);
  rerender(<StreamPanel {...props(streamData([...first, make(3), make(4), make(5)]))} />);
  expect(screen.getByLabelText('new while paused')).toHaveTextContent('3 new');
  expect(ids()).toEqual(['e-2', 'e-1']);

  await userEvent.click(screen.getByRole('button', { name: /Resume/ }));
  expect(screen.getByLabelText('stream state')).toHaveTextContent('● Live');
  expect(ids()).toEqual(['e-5', 'e-4', 'e-3', 'e-2', 'e-1']);
});

test('scrolling away from the top pauses', () => {
  render(<StreamPanel {...props(streamData(Array.from({ length: 200 }, (_, i) => make(i))))} />);
  const scroller = screen.getByRole('table').querySelector('div[style*="overflow: auto"]') as HTMLElement;
  // jsdom does no layout: give the scroller the sizes a browser would (200 rows of 28 px in 472 px).
  Object.defineProperty(scroller, 'scrollHeight', { value: 200 * 28 });
  Object.defineProperty(scroller, 'clientHeight', { value: 472 });
  act(() => {
    scroller.scrollTop = 300;
    fireEvent.scroll(scroller);
  });
  expect(screen.getByLabelText('stream state')).toHaveTextContent('Paused');
  expect(ids()[0]).not.toBe('e-199'); // the view moved with the scroll and stays there
});

test('"+" and "−" add clauses to the filter variable through the URL', async () => {
  render(<StreamPanel {...props(streamData([...history].reverse()), { columns: [...DEFAULT_OPTIONS.columns, 'outcome'] })} />);
  const row = dataRows()[0];
  await userEvent.click(within(row).getByRole('button', { name: 'Filter dst.service == nginx' }));
  await userEvent.click(within(row).getByRole('button', { name: 'Filter status != 404' }));
  await userEvent.click(within(row).getByRole('button', { name: 'Filter operation == GET' }));
  await userEvent.click(within(row).getByRole('button', { name: 'Filter target == /error.html' }));
  await userEvent.click(within(row).getByRole('button', { name: 'Filter outcome != client error' }));
  expect(location.partials).toEqual([
    { 'var-filter': 'http and dst.service == "nginx"' },
    { 'var-filter': 'http and status != 404' },
    { 'var-filter': 'http and operation == "GET"' },
    { 'var-filter': 'http and target == "/error.html"' },
    { 'var-filter': 'http and outcome != "client error"' },
  ]);
  // A row's click opens the drawer; the buttons must not.
  expect(screen.queryByText('Loading the entry from the hub…')).not.toBeInTheDocument();
});

test('an `or` filter is kept whole when a clause is added', async () => {
  rt.templates.variables.filter = 'status == 404 or status == 500';
  render(<StreamPanel {...props(streamData([history[2]]))} />);
  await userEvent.click(screen.getByRole('button', { name: 'Filter src.pod == test-pod' }));
  expect(location.partials).toEqual([{ 'var-filter': '(status == 404 or status == 500) and src.pod == "test-pod"' }]);
});

test('without the filter variable there are no "+" buttons, and the panel says how to get them', () => {
  render(<StreamPanel {...props(streamData([history[0]]), { filterVariable: 'nothere' })} />);
  expect(screen.queryByRole('button', { name: /^Filter / })).not.toBeInTheDocument();
  expect(screen.getByText('ⓘ click-to-filter off')).toHaveAttribute('title', expect.stringContaining('${nothere:raw}'));
});

test('clicking a row opens the entry in full, loaded from the hub', async () => {
  render(<StreamPanel {...props(streamData([...history].reverse()), { entryDashboardUid: 'tapline-request' })} />);
  await userEvent.click(within(dataRows()[0]).getByText('/error.html'));
  expect(await screen.findByText('GET /error.html → 404 Not Found')).toBeInTheDocument();
  expect(hub.calls('/api/v1/entries/0193a1b2-0003-7000-8000-000000000003')).toHaveLength(1);
  const drawer = screen.getByRole('dialog');
  // The protocol's badge from the hub's registry, not a hard-coded "HTTP/…".
  expect(within(drawer).getByText('HTTP', { selector: '[data-protocol]' })).toHaveStyle({ backgroundColor: '#205cc0' });
  // The hub's sections for HTTP: request line, headers, response status, headers, body.
  expect(screen.getAllByRole('region').map((r) => r.getAttribute('aria-label'))).toEqual([
    'Request', 'Request headers', 'Response', 'Response headers', 'Response body', 'Timing', 'Connection', 'Kubernetes',
  ]);
  const request = screen.getByRole('region', { name: 'Request' });
  expect([...request.querySelectorAll('tr')].map((tr) => tr.textContent)).toEqual(['MethodGET', 'Path/error.html', 'Hostnginx.default', 'VersionHTTP/1.1']);
  expect(within(screen.getByRole('region', { name: 'Response' })).getByText('404 Not Found')).toBeInTheDocument();
  expect(within(screen.getByRole('region', { name: 'Response headers' })).getByText('nginx/1.27.3')).toBeInTheDocument();
  const body = screen.getByRole('region', { name: 'Response body' });
  expect(within(body).getByText(/<h1>404 Not Found<\/h1>/)).toHaveAttribute('data-body-kind', 'text');
  expect(within(body).getByText('(text/html)')).toBeInTheDocument();
  expect(within(screen.getByRole('region', { name: 'Request headers' })).getByText('curl/8.5.0')).toBeInTheDocument();
  expect(screen.getByText(/10\.244\.1\.7:51240 → 10\.96\.12\.3:80 http\/1\.1 over tcp seen by kind-worker/)).toBeInTheDocument();
  expect(screen.getByRole('button', { name: /Copy as curl/ })).toBeInTheDocument();
  expect(screen.getByRole('link', { name: /Open in the entry dashboard/ })).toHaveAttribute(
    'href',
    '/d/tapline-request?var-entry=0193a1b2-0003-7000-8000-000000000003',
  );
  await userEvent.click(within(screen.getByRole('region', { name: 'Kubernetes' })).getByRole('button', { name: 'Filter dst.workload == nginx' }));
  expect(location.partials.at(-1)).toEqual({ 'var-filter': 'http and dst.workload == "nginx"' });
});

test('a hub that cannot be reached: the error says so and what happens next', () => {
  const data = { ...streamData([]), state: LoadingState.Error, errors: [{ message: 'the Tapline hub is unreachable (HTTP 502) — reconnecting in 4 s' }] };
  render(<StreamPanel {...props(data)} />);
  expect(screen.getByText('The Tapline hub is unreachable')).toBeInTheDocument();
  expect(screen.getByText(/reconnects on its own/)).toBeInTheDocument();
});

test('empty states tell the user what to do', () => {
  const { rerender } = render(<StreamPanel {...props(streamData([]))} />);
  expect(screen.getByRole('status')).toHaveTextContent('Live — waiting for traffic that matches the filter.');
  rerender(<StreamPanel {...props({ ...streamData([]), series: [], state: LoadingState.Done })} />);
  expect(screen.getByRole('status')).toHaveTextContent('choose the Tapline data source and the "Live stream"');
  rerender(<StreamPanel {...props({ ...streamData([]), series: [], state: LoadingState.Loading })} />);
  expect(screen.getByRole('status')).toHaveTextContent('Connecting to the Tapline hub…');
});
