/**
 * Entries stored as the writers before migration 6 stored them: rows of the v5 `entries` columns
 * (`method`, `path`, no transport, outcome or fields), inserted as JSONEachRow, independently of
 * today's writer and encoder (which write the current columns). For the migration tests.
 */
import { isIP } from 'node:net';
import assert from 'node:assert/strict';
import type { Body, Endpoint, Entry } from '../../src/entries/entry.js';
import type { Store } from '../../src/store/index.js';

/** DateTime64(6) text of an epoch-µs time, in UTC. */
function time(us: number): string {
  const s = Math.floor(us / 1e6);
  return `${new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(us - s * 1e6).padStart(6, '0')}`;
}

function ip(text: string): string {
  if (text === '') return '::';
  return isIP(text) === 4 ? `::ffff:${text}` : text;
}

/** A body as JSON text: the synthetic bodies are UTF-8 text, which JSON carries exactly. */
function text(b: Body): string {
  const s = b.bytes.toString('utf8');
  assert.ok(Buffer.from(s, 'utf8').equals(b.bytes), 'a v5 row in JSON needs a UTF-8 body');
  return s;
}

/** One entry as a row of the v5 columns (all of them but `ingested_at`, the insert time). */
export function v5Row(e: Entry): Record<string, unknown> {
  const ep = (s: 'src' | 'dst', p: Endpoint) => ({
    [`${s}_ip`]: ip(p.ip), [`${s}_port`]: p.port, [`${s}_pod`]: p.pod, [`${s}_namespace`]: p.namespace,
    [`${s}_service`]: p.service, [`${s}_workload`]: p.workload, [`${s}_node`]: p.node,
  });
  const side = (s: 'request' | 'response', h: Entry['requestHeaders'], b: Body) => ({
    [`${s}_header_names`]: Array.from(h, (x) => x[0]), [`${s}_header_values`]: Array.from(h, (x) => x[1]),
    [`${s}_body`]: text(b), [`${s}_body_size`]: b.size, [`${s}_body_wire_size`]: b.wireSize,
    [`${s}_body_truncated`]: b.truncated, [`${s}_body_encoding`]: b.encoding,
  });
  return {
    id: e.id, agent: e.agent, protocol: e.protocol, protocol_version: e.protocolVersion,
    start_time: time(e.startUs), end_time: time(e.endUs), duration_us: e.durationUs,
    ...ep('src', e.src), ...ep('dst', e.dst),
    method: e.operation, path: e.target, query: e.query, host: e.host, status: e.status, status_text: e.statusText,
    ...side('request', e.requestHeaders, e.requestBody), ...side('response', e.responseHeaders, e.responseBody),
    unanswered: e.unanswered, incomplete: e.incomplete,
  };
}

/** Inserts entries into a store at schema version 5 (or 3, 4: the raw table's columns are the same) in blocks. */
export async function insertV5(store: Store, entries: readonly Entry[], blockSize = 2000, table = 'entries'): Promise<void> {
  for (let i = 0; i < entries.length; i += blockSize) {
    await store.client.insert({
      table: `${store.database}.${table}`,
      values: entries.slice(i, i + blockSize).map(v5Row),
      format: 'JSONEachRow',
    });
  }
}
