/**
 * The detail drawer for an entry that is not HTTP: whatever sections the protocol's descriptor
 * gave the hub are shown (tables as name/value tables, payloads with the body views), with the
 * protocol's badge from the hub's registry, and no "copy as curl". Loaded through the real
 * DataSource from a hub on loopback; the DNS-like entry and its registry line are written here by
 * hand (the hub has no DNS dissector yet), in the shapes backend/src/hub/shapes.ts defines.
 */
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createTheme } from '@grafana/data';
import { DataSource } from '../../src/datasource/datasource';
import type { EntryDetail, ProtocolInfo, ProtocolsJson } from '../../src/datasource/types';
import { EntryDrawer, entryTitle } from '../../src/panel/components/EntryDrawer';
import { installGrafanaRuntimeStandIns } from '../support/grafana-runtime-standins';
import { fixture, RecordedHub } from '../support/recorded-hub';

const theme = createTheme();
const body = { size: 0, wireSize: 0, truncated: false, encoding: '', contentType: '' };
const endpoint = { pod: '', namespace: '', service: '', workload: '', node: '' };

const DNS: ProtocolInfo = {
  name: 'dns',
  longName: 'Domain Name System',
  abbr: 'DNS',
  color: '#e67e22',
  transports: ['udp', 'tcp'],
  ports: [53],
  fields: [{ name: 'dns.rcode', aliases: [], type: 'int', doc: 'response code' }],
  outcomes: { ok: 'NOERROR', clientError: 'NXDOMAIN, FORMERR, REFUSED', serverError: 'SERVFAIL', none: 'no answer' },
  secrets: [],
};

const dnsEntry: EntryDetail = {
  id: 'dns-0001',
  startUs: 1732600005000000,
  durationUs: 800,
  endUs: 1732600005000800,
  protocol: 'dns',
  protocolVersion: '',
  transport: 'udp',
  operation: 'A',
  target: 'shop.example',
  query: '',
  host: '',
  status: 3,
  statusText: 'NXDOMAIN',
  outcome: 2,
  unanswered: false,
  incomplete: false,
  src: { ip: '10.244.1.7', port: 40001, ...endpoint, pod: 'test-pod', namespace: 'default' },
  dst: { ip: '10.96.0.10', port: 53, ...endpoint, pod: 'coredns-1', namespace: 'kube-system', service: 'kube-dns' },
  requestSize: 30,
  responseSize: 30,
  agent: 'kind-worker',
  fields: { 'dns.rcode': 3, 'dns.qname': 'shop.example' },
  requestHeaders: [],
  responseHeaders: [],
  requestBody: body,
  responseBody: { ...body, base64: 'q80BAAABAAAAAAAA', size: 12, wireSize: 12 },
  sections: [
    { kind: 'table', title: 'Query', rows: [['Name', 'shop.example'], ['Type', 'A'], ['Class', 'IN']] },
    { kind: 'table', title: 'Answers', rows: [['Code', '3 NXDOMAIN'], ['Authority', 'example. SOA ns.example.']] },
    { kind: 'body', title: 'Response message', body: { ...body, base64: 'q80BAAABAAAAAAAA', size: 12, wireSize: 12 } },
    { kind: 'table', title: 'Fields', rows: [['dns.rcode', '3'], ['dns.qname', 'shop.example']] },
  ],
};

let hub: RecordedHub;
let ds: DataSource;

beforeEach(async () => {
  hub = await RecordedHub.start();
  const recorded = fixture<ProtocolsJson>('protocols');
  hub
    .on('GET', '/api/v1/protocols', { body: { ...recorded, protocols: [...recorded.protocols, DNS] } })
    .on('GET', '/api/v1/entries/:id', (r) => {
      if (r.path.endsWith('/dns-0001')) return { body: dnsEntry };
      if (r.path.endsWith('/dns-lost')) {
        const sections = dnsEntry.sections.filter((x) => x.title === 'Query');
        return { body: { ...dnsEntry, id: 'dns-lost', status: 0, statusText: '', outcome: 0, unanswered: true, sections } };
      }
      return { body: { ...dnsEntry, id: 'x-1', protocol: 'newproto' } };
    });
  ds = new DataSource(installGrafanaRuntimeStandIns({ hubUrl: hub.url }).settings);
});

afterEach(async () => {
  await hub.stop();
});

const regions = () => screen.getAllByRole('region').map((r) => r.getAttribute('aria-label'));
const rows = (title: string) => [...screen.getByRole('region', { name: title }).querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));

test('a DNS-like entry: every section the hub sent, its badge and colour, its status text, no curl', async () => {
  const filters: string[] = [];
  render(<EntryDrawer id="dns-0001" source={Promise.resolve(ds)} onClose={() => {}} onFilter={(f, v, x) => filters.push(`${f} ${x ? '!=' : '=='} ${v}`)} />);
  expect(await screen.findByText('A shop.example → 3 NXDOMAIN')).toBeInTheDocument();
  const badge = within(screen.getByRole('dialog')).getByText('DNS', { selector: '[data-protocol]' });
  expect(badge).toHaveStyle({ backgroundColor: '#e67e22' });
  expect(badge).toHaveAttribute('title', 'Domain Name System (dns)');

  expect(regions()).toEqual(['Query', 'Answers', 'Response message', 'Fields', 'Timing', 'Connection', 'Kubernetes']);
  expect(rows('Query')).toEqual([['Name', 'shop.example'], ['Type', 'A'], ['Class', 'IN']]);
  expect(rows('Answers')).toEqual([['Code', '3 NXDOMAIN'], ['Authority', 'example. SOA ns.example.']]);
  expect(rows('Fields')).toEqual([['dns.rcode', '3'], ['dns.qname', 'shop.example']]);
  // A binary payload: the body view's hex dump, whatever the protocol.
  const payload = within(screen.getByRole('region', { name: 'Response message' })).getByText(/^00000000 ab cd 01 00/);
  expect(payload).toHaveAttribute('data-body-kind', 'hex');

  expect(screen.queryByRole('button', { name: /Copy as curl/ })).not.toBeInTheDocument();
  expect(screen.getByText(/10\.244\.1\.7:40001 → 10\.96\.0\.10:53 dns over udp seen by kind-worker/)).toBeInTheDocument();
  await userEvent.click(within(screen.getByRole('region', { name: 'Kubernetes' })).getByRole('button', { name: 'Filter dst.service == kube-dns' }));
  expect(filters).toEqual(['dst.service == kube-dns']);
});

test('a protocol the registry does not know still shows in full, its badge neutral', async () => {
  render(<EntryDrawer id="x-1" source={Promise.resolve(ds)} onClose={() => {}} />);
  expect(await screen.findByText('A shop.example → 3 NXDOMAIN')).toBeInTheDocument();
  const badge = within(screen.getByRole('dialog')).getByText('NEWPROTO', { selector: '[data-protocol]' });
  expect(badge.style.backgroundColor).toBe('');
  expect(badge).toHaveStyle({ color: theme.colors.text.secondary });
  expect(regions()).toEqual(['Query', 'Answers', 'Response message', 'Fields', 'Timing', 'Connection', 'Kubernetes']);
  // One registry fetch for the data source, however many entries are opened.
  expect(hub.calls('/api/v1/protocols')).toHaveLength(1);
});

test('an unanswered query: its sections, and that no answer was seen', async () => {
  render(<EntryDrawer id="dns-lost" source={Promise.resolve(ds)} onClose={() => {}} />);
  expect(await screen.findByText('A shop.example → no response')).toBeInTheDocument();
  expect(regions()).toEqual(['Query', 'No response', 'Timing', 'Connection', 'Kubernetes']);
  expect(within(screen.getByRole('region', { name: 'No response' })).getByText('No response was seen.')).toBeInTheDocument();
});

test('the title names the status for any protocol: code and text, text alone, or the outcome', () => {
  expect(entryTitle({ operation: 'GET', target: '/error.html', status: 404, statusText: 'Not Found', outcome: 2 })).toBe('GET /error.html → 404 Not Found');
  expect(entryTitle({ operation: 'GET', target: '/x', status: 204, statusText: '', outcome: 1 })).toBe('GET /x → 204');
  expect(entryTitle({ operation: 'SET', target: 'k', status: 0, statusText: 'OK', outcome: 1 })).toBe('SET k → OK');
  expect(entryTitle({ operation: 'GET', target: '/slow', status: 0, statusText: '', outcome: 0 })).toBe('GET /slow → no response');
  expect(entryTitle({ operation: 'PUBLISH', target: 'news', status: 0, statusText: '', outcome: 4 })).toBe('PUBLISH news → one-way');
});
