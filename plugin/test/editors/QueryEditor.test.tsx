/**
 * The query editor with the real DataSource, talking over loopback to recorded hub answers:
 * validation errors with their column, completions, the type picker and per-type options.
 */
import { useState } from 'react';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataSource } from '../../src/datasource/datasource';
import { QueryEditor, parseQuantiles } from '../../src/datasource/components/QueryEditor';
import type { TaplineQuery } from '../../src/datasource/types';
import { installGrafanaRuntimeStandIns } from '../support/grafana-runtime-standins';
import { RecordedHub } from '../support/recorded-hub';

let hub: RecordedHub;
let ds: DataSource;

beforeEach(async () => {
  hub = await RecordedHub.start();
  hub
    .on('POST', '/api/v1/filter/validate', (r) => {
      const { filter } = r.body as { filter: string };
      return filter === 'status >= 40x'
        ? { body: { valid: false, error: { message: "unknown unit 'x' after 40 at column 13", position: 13, expected: ['a number', 'a status class'] } } }
        : { body: { valid: true } };
    })
    .on('GET', '/api/v1/filter/completions', (r) => {
      const prefix = r.query.get('prefix') ?? '';
      return {
        body: prefix.endsWith('dst.')
          ? { fields: [{ name: 'dst.service', type: 'string', doc: 'server: Service' }, { name: 'dst.ip', type: 'ip', doc: 'server IP' }], operators: [], values: [] }
          : { fields: [], operators: ['==', '!='], values: [] },
      };
    });
  ds = new DataSource(installGrafanaRuntimeStandIns({ hubUrl: hub.url }).settings);
});

afterEach(async () => {
  await hub.stop();
});

function Harness({ initial, changes, runs }: { initial: TaplineQuery; changes: TaplineQuery[]; runs: { n: number } }) {
  const [query, setQuery] = useState(initial);
  return (
    <QueryEditor
      datasource={ds}
      query={query}
      onChange={(q) => {
        changes.push(q);
        setQuery(q);
      }}
      onRunQuery={() => runs.n++}
    />
  );
}

test('a bad filter: the hub’s message, its column, and a caret under it', async () => {
  render(<Harness initial={{ refId: 'A', queryType: 'entries', filter: 'status >= 40x' }} changes={[]} runs={{ n: 0 }} />);
  expect(await screen.findByText("unknown unit 'x' after 40 at column 13")).toBeInTheDocument();
  const caret = screen.getByTestId('tapline-filter-caret').textContent ?? '';
  const [line, mark] = caret.split('\n');
  expect(line).toBe('status >= 40x');
  expect(mark.indexOf('^')).toBe(12); // under the 13th character, the 'x'
  expect(line[mark.indexOf('^')]).toBe('x');
  expect(mark).toContain('expected a number or a status class');
  const [call] = hub.calls('/api/v1/filter/validate');
  expect(call.body).toEqual({ filter: 'status >= 40x' });
});

test('fixing the filter clears the error; Enter runs the query', async () => {
  const changes: TaplineQuery[] = [];
  const runs = { n: 0 };
  render(<Harness initial={{ refId: 'A', queryType: 'entries', filter: 'status >= 40x' }} changes={changes} runs={runs} />);
  await screen.findByText(/at column 13/);
  const input = screen.getByLabelText('Filter');
  await userEvent.clear(input);
  await userEvent.type(input, 'status >= 4xx{Enter}');
  expect(changes.at(-1)?.filter).toBe('status >= 4xx');
  expect(runs.n).toBeGreaterThanOrEqual(1);
  // The hub checks the new text, and the error goes away.
  await waitFor(() => expect(hub.calls('/api/v1/filter/validate').at(-1)?.body).toEqual({ filter: 'status >= 4xx' }));
  await waitFor(() => expect(screen.queryByText(/at column 13/)).not.toBeInTheDocument());
  expect(screen.queryByTestId('tapline-filter-caret')).not.toBeInTheDocument();
});

test('completions from the hub replace the word being typed', async () => {
  const changes: TaplineQuery[] = [];
  render(<Harness initial={{ refId: 'A', queryType: 'entries', filter: 'http and dst.' }} changes={changes} runs={{ n: 0 }} />);
  const suggestion = await screen.findByRole('button', { name: 'dst.service' });
  expect(screen.getByRole('button', { name: 'dst.ip' })).toBeInTheDocument();
  expect(hub.calls('/api/v1/filter/completions')[0].query.get('prefix')).toBe('http and dst.');
  await userEvent.click(suggestion);
  expect(changes.at(-1)?.filter).toBe('http and dst.service ');
});

test('the type picker switches the options shown, and runs the query', async () => {
  const changes: TaplineQuery[] = [];
  const runs = { n: 0 };
  render(<Harness initial={{ refId: 'A', queryType: 'entries' }} changes={changes} runs={runs} />);
  expect(screen.getByLabelText('Limit')).toBeInTheDocument();

  await userEvent.click(screen.getByLabelText('Stats'));
  expect(changes.at(-1)?.queryType).toBe('stats');
  expect(runs.n).toBe(1);
  expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();
  await userEvent.click(screen.getByLabelText('Service'));
  expect(changes.at(-1)?.groupBy).toBe('service');
  expect(screen.queryByLabelText('Top')).not.toBeInTheDocument();
  await userEvent.click(screen.getByLabelText('Field'));
  const groupField = screen.getByRole('textbox', { name: 'Field' });
  await userEvent.type(groupField, 'dns.rcode');
  expect(changes.at(-1)?.groupBy).toBe('dns.rcode');
  await userEvent.type(screen.getByLabelText('Top'), '5');
  expect(changes.at(-1)?.top).toBe(5);
  await userEvent.click(screen.getByLabelText('Service'));
  expect(changes.at(-1)?.groupBy).toBe('service');
  await userEvent.click(screen.getByLabelText('Latency'));
  expect(changes.at(-1)?.metric).toBe('latency');
  const q = screen.getByLabelText('Quantiles');
  await userEvent.clear(q);
  await userEvent.type(q, '0.9, 0.999');
  await userEvent.tab();
  expect(changes.at(-1)?.quantiles).toEqual([0.9, 0.999]);

  await userEvent.click(screen.getByLabelText('Service map'));
  await userEvent.click(screen.getByLabelText('Error rate'));
  expect(changes.at(-1)).toMatchObject({ queryType: 'serviceMap', secondaryStat: 'errorRate' });

  await userEvent.click(screen.getByLabelText('Top values'));
  await userEvent.type(screen.getByRole('textbox', { name: 'Field' }), 'sql.shape');
  await userEvent.click(screen.getByLabelText('p95 latency'));
  await userEvent.type(screen.getByLabelText('Rows'), '10');
  expect(changes.at(-1)).toMatchObject({ queryType: 'top', by: 'sql.shape', sort: 'p95', limit: 10 });

  await userEvent.click(screen.getByLabelText('Live stream'));
  await userEvent.type(screen.getByLabelText('Rows kept'), '5000');
  expect(changes.at(-1)).toMatchObject({ queryType: 'stream', capacity: 5000 });

  await userEvent.click(screen.getByLabelText('Entry'));
  expect(screen.queryByLabelText('Filter')).not.toBeInTheDocument();
  await userEvent.type(screen.getByLabelText('Entry id'), '$entry');
  expect(changes.at(-1)).toMatchObject({ queryType: 'entry', entryId: '$entry' });
});

test('the limit accepts 1–10000 only', async () => {
  const changes: TaplineQuery[] = [];
  render(<Harness initial={{ refId: 'A', queryType: 'entries' }} changes={changes} runs={{ n: 0 }} />);
  await userEvent.type(screen.getByLabelText('Limit'), '250');
  expect(changes.at(-1)?.limit).toBe(250);
  await userEvent.type(screen.getByLabelText('Limit'), '00'); // 25000: refused
  expect(changes.at(-1)?.limit).toBe(2500);
});

test('parseQuantiles', () => {
  expect(parseQuantiles('0.5, 0.95,0.99')).toEqual([0.5, 0.95, 0.99]);
  expect(parseQuantiles('0.5, 1')).toBeUndefined();
  expect(parseQuantiles('abc')).toBeUndefined();
  expect(parseQuantiles('')).toBeUndefined();
});
