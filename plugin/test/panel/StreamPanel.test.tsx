/**
 * The stream panel with Testing Library, fed frames made by the data source's own frame code, its
 * drawer loading entries through the real DataSource from recorded hub answers on loopback.
 */
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { getDefaultTimeRange, LoadingState, type PanelData, type PanelProps } from '@grafana/data';
import { DataSource } from '../../src/datasource/datasource';
import { appendEntries, streamFrame } from '../../src/datasource/frames';
import type { EntriesResponse, EntrySummary } from '../../src/datasource/types';
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
  path: `/p/${n}`,
  startUs: 1732600000000000 + n * 1000,
  ...patch,
});

/** The frame the Live stream query would have produced after receiving `entries` (oldest first). */
function streamData(entries: EntrySummary[], state = LoadingState.Streaming): PanelData {
  const frame = streamFrame('A', 20_000);
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
  hub.on('GET', '/api/v1/entries/:id', { body: fixture('entry-404') });
  rt = installGrafanaRuntimeStandIns({ hubUrl: hub.url, variables: { filter: 'http' } });
  location = installPanelStandIns(new DataSource(rt.settings));
});

afterEach(async () => {
  await hub.stop();
});

test('rows newest first, status coloured by class, names shown with the IP on hover', () => {
  render(<StreamPanel {...props(streamData([...history].reverse()))} />);
  expect(screen.getByLabelText('stream state')).toHaveTextContent('● Live');
  expect(ids()).toEqual(history.map((e) => e.id));
  const first = dataRows()[0];
  expect(within(first).getByText('404')).toHaveAttribute('data-status-class', '4xx');
  expect(within(first).getByText('/error.html')).toBeInTheDocument();
  expect(within(first).getByText('nginx').closest('[title]')).toHaveAttribute('title', '10.96.12.3:80 (default)');
  expect(within(dataRows()[2]).getByText('10.96.12.3:80')).toBeInTheDocument();
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
  render(<StreamPanel {...props(streamData([...history].reverse()))} />);
  const row = dataRows()[0];
  await userEvent.click(within(row).getByRole('button', { name: 'Filter dst.service == nginx' }));
  await userEvent.click(within(row).getByRole('button', { name: 'Filter status != 404' }));
  expect(location.partials).toEqual([{ 'var-filter': 'http and dst.service == "nginx"' }, { 'var-filter': 'http and status != 404' }]);
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
  expect(await screen.findByText('GET /error.html → 404')).toBeInTheDocument();
  expect(hub.calls('/api/v1/entries/0193a1b2-0003-7000-8000-000000000003')).toHaveLength(1);
  const response = screen.getByRole('region', { name: 'Response' });
  expect(within(response).getByText('HTTP/1.1 404 Not Found')).toBeInTheDocument();
  expect(within(response).getByText('nginx/1.27.3')).toBeInTheDocument();
  expect(within(response).getByText(/<h1>404 Not Found<\/h1>/)).toHaveAttribute('data-body-kind', 'text');
  expect(within(screen.getByRole('region', { name: 'Request' })).getByText('curl/8.5.0')).toBeInTheDocument();
  expect(screen.getByText(/10\.244\.1\.7:51240 → 10\.96\.12\.3:80/)).toBeInTheDocument();
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
