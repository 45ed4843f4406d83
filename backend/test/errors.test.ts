// Every error class the backend throws on purpose extends TaplineError, with an UPPER_SNAKE `code`
// (bar the lowercase codes kept because callers match on them) and its class name as `name`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TaplineError } from '../src/errors.js';
import { KubeError } from '../src/k8s/errors.js';
import { ApiError, HubConfigError } from '../src/hub/errors.js';
import { FilterError } from '../src/query/errors.js';
import { RetentionError } from '../src/store/retention.js';
import { StoreConfigError } from '../src/store/config.js';
import { EntryEncodeError } from '../src/store/rows.js';
import { SchemaError } from '../src/store/schema.js';
import { StoreInsertError, StoreLockedError, StoreOpenError } from '../src/store/client.js';
import { MigrationError } from '../src/store/migrate.js';
import { CaptureError } from '../src/capture/errors.js';
import { ProtocolRegistryError } from '../src/protocols/registry.js';
import { RegexError } from '../src/query/regex.js';
import { ProtoSchemaError } from '../src/protocols/grpc/schemas.js';

const errors: Array<[name: string, err: TaplineError]> = [
  ['KubeError', new KubeError('sync_timeout', 'Kubernetes metadata not synced after 10 ms: waiting for pods')],
  ['ApiError', new ApiError(400, 'bad_filter', "unknown field 'x' at column 1", 1)],
  ['HubConfigError', new HubConfigError('a hub listening beyond loopback needs --token')],
  ['FilterError', new FilterError("unknown field 'lantency'", 1, ['latency'])],
  ['RetentionError', new RetentionError('unexpected partition or part name "a b"')],
  ['StoreConfigError', new StoreConfigError('give either --data DIR (embedded store) or --url URL (ClickHouse server), not both')],
  ['EntryEncodeError', new EntryEncodeError('e1', 'src.ip', 'is not an IP address: "x"')],
  ['ProtocolRegistryError', new ProtocolRegistryError('protocol "http" is registered already')],
  ['RegexError', new RegexError('invalid regular expression: missing closing )')],
  ['SchemaError', new SchemaError('invalid database name "a-b"')],
  ['StoreLockedError', new StoreLockedError('/tmp/tapline-data', 1234)],
  ['StoreOpenError', new StoreOpenError('cannot open the data directory /nope')],
  ['StoreInsertError', new StoreInsertError('not a plain identifier: "a;b"')],
  ['MigrationError', new MigrationError('migration 3 failed')],
  ['CaptureError', new CaptureError('BAD_RECORD', 'f.pcap: record 2 claims 99999999 captured bytes', 64)],
  ['ProtoSchemaError', new ProtoSchemaError('--proto protos: no .proto files')],
];

/** Lowercase codes kept: the HTTP API's (docs/api.md), FilterError's (the answer it becomes), KubeError's (tests match on them). */
const LOWERCASE_KEPT = new Set(['ApiError', 'FilterError', 'KubeError']);

for (const [name, err] of errors) {
  test(`${name} is a TaplineError with a conventional code and its class name`, () => {
    assert.ok(err instanceof TaplineError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, name);
    assert.equal(err.constructor.name, name);
    if (LOWERCASE_KEPT.has(name)) assert.match(err.code, /^[a-z][a-z0-9_]*$/);
    else assert.match(err.code, /^[A-Z][A-Z0-9_]*$/);
    assert.match(String(err), new RegExp(`^${name}: `));
  });
}

test('messages and the HTTP answer are as before', () => {
  const byName = new Map(errors);
  assert.equal(byName.get('FilterError')!.message, "unknown field 'lantency' at column 1");
  assert.equal(byName.get('CaptureError')!.message, 'f.pcap: record 2 claims 99999999 captured bytes (at byte 64)');
  assert.equal(
    byName.get('StoreLockedError')!.message,
    'the data directory /tmp/tapline-data is in use by another process (pid 1234); stop it or use another --data directory',
  );
  assert.equal(byName.get('EntryEncodeError')!.message, 'entry "e1": src.ip is not an IP address: "x"');
  assert.deepEqual((byName.get('ApiError') as ApiError).toJSON(), {
    error: { code: 'bad_filter', message: "unknown field 'x' at column 1", position: 1 },
  });
});

test('cause goes through to Error', () => {
  const cause = new Error('ECONNREFUSED');
  const err = new StoreOpenError('cannot reach the ClickHouse server', { cause });
  assert.equal(err.cause, cause);
  assert.equal(err.message, 'cannot reach the ClickHouse server');
});

test('every error class in backend/src extends TaplineError, and each is checked here', () => {
  const src = join(import.meta.dirname, '../src');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));
  const extending = new Set<string>();
  const plain: string[] = [];
  for (const f of files(src)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/class (\w+) extends TaplineError\b/g)) extending.add(m[1]);
    // The base itself, and query/match.ts's NotInMemory: control flow that never leaves its module.
    for (const m of text.matchAll(/class (\w+) extends Error\b/g)) if (m[1] !== 'TaplineError' && m[1] !== 'NotInMemory') plain.push(m[1]);
  }
  assert.deepEqual(plain, []);
  assert.deepEqual([...extending].sort(), errors.map(([n]) => n).sort());
});
