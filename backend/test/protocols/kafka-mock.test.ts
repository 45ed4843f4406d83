/**
 * Kafka with real peers: librdkafka's mock cluster (kcat's, speaking the real protocol over TCP)
 * as the broker; kcat producers with each codec and acks=0, a kcat consumer and a kcat consumer
 * group (librdkafka), and kafkajs (a producer, an acks=0 send, a consumer group) as clients;
 * captured by tcpdump on lo, imported like any capture. The entries must be tshark's requests (API
 * key, version, correlation id, topics, record counts, the first keys and values) paired with the
 * same responses (every error code), exactly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { KEPT_RECORDS } from '../../src/protocols/kafka/records.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { kcat, MockCluster, tsharkClientPorts, tsharkKafka, type TsharkKafka } from './kafka-support.js';

let cluster: MockCluster;

before(async () => {
  await tsharkAvailable();
  cluster = await MockCluster.start();
});

after(() => cluster?.stop());

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
/** Compressible values: librdkafka sends a batch uncompressed when compressing would not make it smaller. */
const value = (codec: string, i: number) => `value ${codec} ${i} ${'the quick brown fox jumps over the lazy dog '.repeat(3)}`;

/** What both sides agree on for one request: the API, the topics, the error codes of its response, the records. */
interface Call {
  key: string;
  op: string;
  topics: string;
  /** null when no response came (acks=0, or the client quit first). */
  errors: string | null;
  records: number;
  keys: string[];
  values: string[];
}

function ourCalls(entries: Entry[], clients: Set<number>, topicless: Set<number>): Call[] {
  return entries
    .filter((e) => clients.has(e.src.port))
    .map((e) => {
      const f = e.fields;
      const rows = (e.fields['kafka.api'] === 'Fetch' ? e.responseHeaders : e.requestHeaders).toPairs();
      const codes = e.responseHeaders.get('error codes');
      const responded = !e.unanswered && f['kafka.error'] !== undefined;
      return {
        key: `${e.src.port} ${f['kafka.correlation_id']}`,
        op: `${f['kafka.api_key']} v${f['kafka.api_version']}`,
        topics: topicless.has(Number(f['kafka.api_key'])) || f['kafka.topic'] === undefined ? '' : e.target,
        errors: responded ? (codes ?? String(e.status)) : null,
        records: Number(f['kafka.records'] ?? 0),
        keys: rows.filter(([n]) => n.endsWith(' key')).map(([, v]) => v),
        values: rows.filter(([n]) => n.endsWith(' value')).map(([, v]) => v),
      };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** tshark's PDUs as calls: each request with the response of its client port and correlation id. */
function theirCalls(pdus: TsharkKafka[], clients: Set<number>, topicless: Set<number>): Call[] {
  const responses = new Map<string, TsharkKafka>();
  for (const p of pdus) if (!p.request) responses.set(`${p.dstPort} ${p.correlationId}`, p);
  return pdus
    .filter((p) => p.request && clients.has(p.srcPort))
    .map((p) => {
      const key = `${p.srcPort} ${p.correlationId}`;
      const res = responses.get(key);
      const withRecords = p.key === 1 ? res : p;
      const topics = p.topics.length > 0 ? p.topics : (res?.topics ?? []);
      return {
        key,
        op: `${p.key} v${p.version}`,
        topics: topicless.has(p.key) ? '' : topics.join(','),
        // A broker sends nothing back to acks=0; the mock cluster answers anyway: an orphan for Tapline.
        errors: res && p.acks !== 0 ? (res.errors.length > 1 ? res.errors.join(' ') : String(res.errors[0] ?? 0)) : null,
        records: withRecords?.records ?? 0,
        keys: (withRecords?.keys ?? []).slice(0, KEPT_RECORDS),
        values: (withRecords?.values ?? []).slice(0, KEPT_RECORDS),
      };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

test('kcat (librdkafka) and kafkajs against the mock cluster: entries are tshark\'s calls, topics, error codes and records', async () => {
  const file = tempFile('kafka.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${cluster.port}`, file);
  const consumed: string[] = [];
  try {
    for (const codec of CODECS) {
      const lines = [1, 2, 3].map((i) => `k-${codec}-${i}:${value(codec, i)}`).join('\n');
      await kcat(cluster, ['-P', '-t', `orders-${codec}`, '-K:', '-z', codec, '-p', '0', '-X', 'linger.ms=50'], `${lines}\n`);
    }
    await kcat(cluster, ['-P', '-t', 'fire', '-K:', '-p', '0', '-X', 'acks=0'], 'k-fire:forget me\n');
    consumed.push(await kcat(cluster, ['-C', '-t', 'orders-gzip', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%k=%s\\n']));
    consumed.push(await kcat(cluster, ['-G', 'tapline-rd', '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%k\\n', 'orders-zstd']));

    const kafka = new Kafka({ brokers: [cluster.bootstrap], clientId: 'tapline-kafkajs', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'kj', compression: CompressionTypes.GZIP, messages: [{ key: 'kj-1', value: 'v'.repeat(100), headers: { trace: 't-1' } }] });
    await producer.send({ topic: 'kj', acks: 0, messages: [{ key: 'kj-2', value: 'no answer' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'tapline-js' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'kj', fromBeginning: true });
    const keys: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          keys.push(String(message.key));
          if (keys.length === 2) resolve();
        },
      });
    });
    await consumer.disconnect();
    consumed.push(keys.sort().join(','));
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  assert.deepEqual(consumed, [
    [1, 2, 3].map((i) => `k-gzip-${i}=${value('gzip', i)}\n`).join(''),
    'k-zstd-1\nk-zstd-2\nk-zstd-3\n',
    'kj-1,kj-2',
  ]);

  const c = await analyse(file, []);
  const entries = [...c.entries].sort((a, b) => a.startUs - b.startUs);
  const clients = await tsharkClientPorts(file, cluster.port);
  // FindCoordinator names a group and JoinGroup's metadata names topics tshark reads and Tapline does not.
  const topicless = new Set([10, 11]);
  const ours = ourCalls(entries, clients, topicless);
  const pdus = await tsharkKafka(file, cluster.port);
  const theirs = theirCalls(pdus, clients, topicless);
  const acks0 = pdus.filter((p) => p.request && p.acks === 0).map((p) => `${p.srcPort} ${p.correlationId}`);
  assert.equal(pdus.filter((p) => !p.request && acks0.includes(`${p.dstPort} ${p.correlationId}`)).length, 2, 'the mock answers both acks=0 produces');
  assert.ok(theirs.length > 50, `tshark saw ${theirs.length} calls`);
  assert.deepEqual(ours, theirs);

  const mine = entries.filter((e) => clients.has(e.src.port));
  const ops = new Set(mine.map((e) => e.fields['kafka.api']));
  for (const api of ['ApiVersions', 'Metadata', 'Produce', 'Fetch', 'ListOffsets', 'FindCoordinator', 'JoinGroup', 'SyncGroup', 'OffsetFetch', 'OffsetCommit', 'LeaveGroup']) {
    assert.ok(ops.has(api), `${api} seen (${[...ops].join(' ')})`);
  }
  // Each kcat producer's batch in its codec, decoded: the keys and values sent.
  for (const codec of CODECS) {
    const produce = mine.filter((e) => e.fields['kafka.api'] === 'Produce' && e.target === `orders-${codec}`);
    assert.equal(produce.reduce((n, e) => n + Number(e.fields['kafka.records']), 0), 3, codec);
    assert.deepEqual(produce.map((e) => e.fields['kafka.compression']), produce.map(() => codec));
    assert.deepEqual(produce.map((e) => e.fields['kafka.undecoded']), produce.map(() => 0));
    const sent = produce.flatMap((e) => e.requestHeaders.toPairs().filter(([n]) => / @\d+ value$/.test(n)).map(([, v]) => v));
    assert.deepEqual(sent, [1, 2, 3].map((i) => value(codec, i)));
    for (const e of produce) assert.deepEqual([e.status, e.outcome, e.unanswered], [0, Outcome.ok, false]);
  }
  // acks=0, from librdkafka and kafkajs: one-way entries, not unanswered ones.
  const fire = mine.filter((e) => e.fields['kafka.api'] === 'Produce' && e.fields['kafka.acks'] === 0);
  assert.deepEqual(fire.map((e) => [e.target, e.outcome, e.unanswered, e.durationUs]), [['fire', Outcome.oneWay, false, 0], ['kj', Outcome.oneWay, false, 0]]);
  // librdkafka asks ApiVersions v3 first; the mock answers UNSUPPORTED_VERSION and the client falls back to v0.
  const versions = mine.filter((e) => e.fields['kafka.api'] === 'ApiVersions');
  assert.ok(versions.some((e) => e.status === 35 && e.statusText === 'UNSUPPORTED_VERSION' && e.outcome === Outcome.clientError && e.operation === 'ApiVersions v3'));
  assert.ok(versions.some((e) => e.status === 0 && e.operation === 'ApiVersions v0'));
  // kafkajs's gzip batch with a record header; the group's entries name it.
  const js = mine.find((e) => e.fields['kafka.client_id'] === 'tapline-kafkajs' && e.fields['kafka.api'] === 'Produce' && e.fields['kafka.acks'] !== 0)!;
  assert.deepEqual([js.fields['kafka.compression'], js.requestHeaders.get('kj[0] @0 header trace') ?? js.requestHeaders.toPairs().find(([n]) => n.endsWith('header trace'))?.[1]], ['gzip', 't-1']);
  assert.ok(mine.some((e) => e.fields['kafka.api'] === 'JoinGroup' && e.fields['kafka.group'] === 'tapline-js' && e.target === 'tapline-js'));
  assert.ok(mine.some((e) => e.fields['kafka.api'] === 'SyncGroup' && e.fields['kafka.group'] === 'tapline-rd'));
  assert.equal(c.entries.filter((e) => e.protocol !== 'kafka').length, 0);
  for (const e of mine) {
    assert.equal(e.dst.port, cluster.port);
    if (!e.unanswered && e.outcome !== Outcome.oneWay) assert.ok(e.durationUs > 0 && e.durationUs < 10e6, `${e.operation}: ${e.durationUs} µs`);
  }
});
