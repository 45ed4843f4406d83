/**
 * One entry in full, fetched from the data source when a row is clicked: request and response
 * (line, headers, body as JSON, text or hex), timing, the TCP connection, Kubernetes names that
 * narrow the stream, "copy as curl", and a link to the single-entry dashboard.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, ClipboardButton, Drawer, LinkButton, LoadingPlaceholder, Stack } from '@grafana/ui';
import type { FullEntry, HubBody } from '../../datasource/types.js';
import { bodyView, curlCommand } from '../body.js';
import { Filterable, type FilterAction } from './StreamList.js';

/** What the drawer needs from the data source (the Tapline DataSource has it). */
export interface EntrySource {
  getEntry(id: string): Promise<FullEntry>;
}

interface Props {
  id: string;
  source: Promise<EntrySource>;
  onClose: () => void;
  onFilter?: FilterAction;
  entryDashboardUid?: string;
}

const mono = { fontFamily: 'monospace', fontSize: 12, whiteSpace: 'pre-wrap' as const, wordBreak: 'break-all' as const, margin: 0 };

function Headers({ list }: { list: Array<[string, string]> }) {
  if (!list.length) return <div>No headers</div>;
  return (
    <table style={{ ...mono, borderCollapse: 'collapse' }}>
      <tbody>
        {list.map(([k, v], i) => (
          <tr key={`${k}-${i}`}>
            <td style={{ paddingRight: 12, verticalAlign: 'top', fontWeight: 500 }}>{k}</td>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Body({ body, label }: { body: HubBody; label: string }) {
  const v = bodyView(body);
  const notes = [
    body.encoding && `decoded from ${body.encoding}`,
    body.truncated && `truncated: ${body.size} bytes decoded, ${body.wireSize} on the wire`,
    v.kind === 'hex' && v.shown < body.size && `hex view of the first ${v.shown} bytes`,
    body.contentType,
  ].filter(Boolean);
  return (
    <section aria-label={`${label} body`}>
      <h5 style={{ margin: '8px 0 4px' }}>
        Body {notes.length > 0 && <small style={{ fontWeight: 400 }}>({notes.join('; ')})</small>}
      </h5>
      {v.kind === 'empty' ? <div>No body</div> : <pre data-body-kind={v.kind} style={mono}>{v.text}</pre>}
    </section>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section aria-label={title} style={{ marginBottom: 16 }}>
      <h4>{title}</h4>
      {children}
    </section>
  );
}

function K8s({ e, onFilter }: { e: FullEntry; onFilter?: FilterAction }) {
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
  const [entry, setEntry] = useState<FullEntry | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    setEntry(undefined);
    setError(undefined);
    source
      .then((s) => s.getEntry(id))
      .then((e) => live && setEntry(e))
      .catch((err: unknown) => live && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      live = false;
    };
  }, [id, source]);

  const title = entry ? `${entry.method} ${entry.path} → ${entry.status || 'no response'}` : 'Entry';
  return (
    <Drawer title={title} subtitle={id} onClose={onClose} size="md">
      {error && (
        <Alert severity="error" title="Could not load this entry">
          {error}
        </Alert>
      )}
      {!entry && !error && <LoadingPlaceholder text="Loading the entry from the hub…" />}
      {entry && (
        <div>
          <Stack direction="row" gap={1}>
            <ClipboardButton icon="copy" variant="secondary" size="sm" getText={() => curlCommand(entry)}>
              Copy as curl
            </ClipboardButton>
            {entryDashboardUid && (
              <LinkButton size="sm" variant="secondary" icon="external-link-alt" href={`/d/${encodeURIComponent(entryDashboardUid)}?var-entry=${encodeURIComponent(entry.id)}`}>
                Open in the entry dashboard
              </LinkButton>
            )}
          </Stack>
          <Section title="Request">
            <pre style={mono}>{`${entry.method} ${entry.path}${entry.query ? `?${entry.query}` : ''} HTTP/${entry.protocolVersion}`}</pre>
            <Headers list={entry.requestHeaders} />
            <Body body={entry.requestBody} label="Request" />
          </Section>
          <Section title="Response">
            {entry.unanswered ? (
              <div>No response was seen.</div>
            ) : (
              <>
                <pre style={mono}>{`HTTP/${entry.protocolVersion} ${entry.status} ${entry.statusText}`}</pre>
                <Headers list={entry.responseHeaders} />
                <Body body={entry.responseBody} label="Response" />
              </>
            )}
          </Section>
          <Section title="Timing">
            <pre style={mono}>
              {`started   ${new Date(entry.startUs / 1000).toISOString()}\nended     ${new Date(entry.endUs / 1000).toISOString()}\nduration  ${(entry.durationUs / 1000).toFixed(3)} ms`}
            </pre>
          </Section>
          <Section title="Connection">
            <pre style={mono}>
              {`${entry.src.ip}:${entry.src.port} → ${entry.dst.ip}:${entry.dst.port}  ${entry.protocol}/${entry.protocolVersion}  seen by ${entry.agent}${entry.incomplete ? '  (incomplete: part of the exchange was not captured)' : ''}`}
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
