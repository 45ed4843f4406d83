/**
 * One entry in full, fetched from the data source when a row is clicked, for any protocol: a title
 * line (the protocol's badge, operation, target, status), the sections the protocol's descriptor
 * gives the hub (name/value tables; payloads as JSON, text or hex), timing, the connection,
 * Kubernetes names that narrow the stream, "copy as curl" for HTTP, and a link to the single-entry
 * dashboard. A protocol the plugin has never heard of shows as completely as HTTP does.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, ClipboardButton, Drawer, LinkButton, LoadingPlaceholder, Stack, Text, useTheme2 } from '@grafana/ui';
import { EMPTY_REGISTRY, outcomeName, type ProtocolRegistry } from '../../datasource/protocols.js';
import type { BodyJson, EntryDetail, SectionJson } from '../../datasource/types.js';
import { bodyView, curlCommand, hasCurl } from '../body.js';
import { Filterable, ProtocolTag, type FilterAction } from './StreamList.js';

/** What the drawer needs from the data source (the Tapline DataSource has it). */
export interface EntrySource {
  getEntry(id: string): Promise<EntryDetail>;
  /** The hub's protocol registry, for the badge; without it the protocol shows in a neutral colour. */
  getProtocols?(): Promise<ProtocolRegistry>;
}

interface Props {
  id: string;
  source: Promise<EntrySource>;
  onClose: () => void;
  onFilter?: FilterAction;
  entryDashboardUid?: string;
}

const mono = { fontFamily: 'monospace', fontSize: 12, whiteSpace: 'pre-wrap' as const, wordBreak: 'break-all' as const, margin: 0 };

/** The status as the title shows it: "404 Not Found", "3 NXDOMAIN", a status text alone, or the outcome. */
export function statusLine(e: Pick<EntryDetail, 'status' | 'statusText' | 'outcome'>): string {
  if (e.status) return `${e.status} ${e.statusText}`.trim();
  return e.statusText || outcomeName(e.outcome);
}

/** "GET /error.html → 404 Not Found", "A example.com → 3 NXDOMAIN". */
export function entryTitle(e: Pick<EntryDetail, 'operation' | 'target' | 'status' | 'statusText' | 'outcome'>): string {
  const what = [e.operation, e.target].filter(Boolean).join(' ');
  return `${what ? `${what} ` : ''}→ ${statusLine(e)}`;
}

function NameValues({ rows }: { rows: Array<[string, string]> }) {
  if (!rows.length) return <div>Nothing</div>;
  return (
    <table style={{ ...mono, borderCollapse: 'collapse' }}>
      <tbody>
        {rows.map(([k, v], i) => (
          <tr key={`${k}-${i}`}>
            <td style={{ paddingRight: 12, verticalAlign: 'top', fontWeight: 500 }}>{k}</td>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Section({ title, note, children }: { title: string; note?: string; children: ReactNode }) {
  return (
    <section aria-label={title} style={{ marginBottom: 16 }}>
      <h4>
        {title} {note && <small style={{ fontWeight: 400 }}>({note})</small>}
      </h4>
      {children}
    </section>
  );
}

function BodySection({ title, body }: { title: string; body: BodyJson }) {
  const v = bodyView(body);
  const notes = [
    body.encoding && `decoded from ${body.encoding}`,
    body.truncated && `truncated: ${body.size} bytes decoded, ${body.wireSize} on the wire`,
    v.kind === 'hex' && v.shown < body.size && `hex view of the first ${v.shown} bytes`,
    body.contentType,
  ].filter(Boolean);
  return (
    <Section title={title} note={notes.join('; ')}>
      {v.kind === 'empty' ? <div>Empty</div> : <pre data-body-kind={v.kind} style={mono}>{v.text}</pre>}
    </Section>
  );
}

/** One of the protocol's sections, whatever the protocol. */
function EntrySection({ s }: { s: SectionJson }) {
  if (s.kind === 'body') return <BodySection title={s.title} body={s.body} />;
  return (
    <Section title={s.title}>
      <NameValues rows={s.rows} />
    </Section>
  );
}

function K8s({ e, onFilter }: { e: EntryDetail; onFilter?: FilterAction }) {
  const rows: Array<[string, 'src' | 'dst', 'pod' | 'namespace' | 'service' | 'workload' | 'node']> = [];
  for (const p of ['src', 'dst'] as const) for (const k of ['pod', 'namespace', 'service', 'workload', 'node'] as const) rows.push([`${p}.${k}`, p, k]);
  const known = rows.filter(([, p, k]) => e[p][k]);
  if (!known.length) return <div>No Kubernetes names known for these addresses.</div>;
  return (
    <table style={{ ...mono, borderCollapse: 'collapse' }}>
      <tbody>
        {known.map(([field, p, k]) => (
          <tr key={field}>
            <td style={{ paddingRight: 12 }}>{field}</td>
            <td>
              <Filterable field={field} value={e[p][k]} onFilter={onFilter}>
                {e[p][k]}
              </Filterable>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function EntryDrawer({ id, source, onClose, onFilter, entryDashboardUid }: Props) {
  const theme = useTheme2();
  const [loaded, setLoaded] = useState<{ entry: EntryDetail; protocols: ProtocolRegistry } | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    setLoaded(undefined);
    setError(undefined);
    source
      .then((s) =>
        Promise.all([
          s.getEntry(id),
          // The badge is a nicety: an entry without its registry still shows in full.
          (s.getProtocols?.() ?? Promise.resolve(EMPTY_REGISTRY)).catch(() => EMPTY_REGISTRY),
        ]),
      )
      .then(([entry, protocols]) => live && setLoaded({ entry, protocols }))
      .catch((err: unknown) => live && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      live = false;
    };
  }, [id, source]);

  const entry = loaded?.entry;
  const title = (
    <Stack direction="column" gap={0.5}>
      <Text element="h3" truncate>
        {loaded && (
          <>
            <ProtocolTag badge={loaded.protocols.badge(loaded.entry.protocol)} theme={theme} />{' '}
          </>
        )}
        <span>{entry ? entryTitle(entry) : 'Entry'}</span>
      </Text>
      <div style={{ color: theme.colors.text.secondary }}>{id}</div>
    </Stack>
  );
  return (
    <Drawer title={title} onClose={onClose} size="md">
      {error && (
        <Alert severity="error" title="Could not load this entry">
          {error}
        </Alert>
      )}
      {!entry && !error && <LoadingPlaceholder text="Loading the entry from the hub…" />}
      {entry && (
        <div>
          <Stack direction="row" gap={1}>
            {hasCurl(entry) && (
              <ClipboardButton icon="copy" variant="secondary" size="sm" getText={() => curlCommand(entry)}>
                Copy as curl
              </ClipboardButton>
            )}
            {entryDashboardUid && (
              <LinkButton size="sm" variant="secondary" icon="external-link-alt" href={`/d/${encodeURIComponent(entryDashboardUid)}?var-entry=${encodeURIComponent(entry.id)}`}>
                Open in the entry dashboard
              </LinkButton>
            )}
          </Stack>
          {(entry.sections ?? []).map((s, i) => (
            <EntrySection key={`${s.title}-${i}`} s={s} />
          ))}
          {entry.unanswered && (
            <Section title="No response">
              <div>No response was seen.</div>
            </Section>
          )}
          <Section title="Timing">
            <pre style={mono}>
              {`started   ${new Date(entry.startUs / 1000).toISOString()}\nended     ${new Date(entry.endUs / 1000).toISOString()}\nduration  ${(entry.durationUs / 1000).toFixed(3)} ms`}
            </pre>
          </Section>
          <Section title="Connection">
            <pre style={mono}>
              {`${entry.src.ip}:${entry.src.port} → ${entry.dst.ip}:${entry.dst.port}  ${entry.protocol}${entry.protocolVersion ? `/${entry.protocolVersion}` : ''} over ${entry.transport}  seen by ${entry.agent}${entry.incomplete ? '  (incomplete: part of the exchange was not captured)' : ''}`}
            </pre>
          </Section>
          <Section title="Kubernetes">
            <K8s e={entry} onFilter={onFilter} />
          </Section>
        </div>
      )}
    </Drawer>
  );
}
