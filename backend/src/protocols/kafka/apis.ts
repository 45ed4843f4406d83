/**
 * The Kafka APIs: names, the first version of each that is "flexible" (KIP-482: compact strings
 * and arrays, tagged fields, request header v2 and response header v1), error codes and what they
 * mean for an outcome, and the parsers of the requests and responses a user meets. Versions follow
 * the message definitions of Apache Kafka 3.7 (clients/src/main/resources/common/message/*.json).
 */
import { Outcome } from '../../entries/entry.js';
import { RecordTally } from './records.js';
import type { Reader } from './wire.js';

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  SaslAuthenticate: 36,
} as const;

/** name, first flexible version (Infinity: never), highest version defined. Index: the API key. */
type ApiInfo = readonly [name: string, firstFlexible: number, maxVersion: number];
const N = Infinity;
const APIS: ReadonlyArray<ApiInfo | undefined> = [
  ['Produce', 9, 11], ['Fetch', 12, 16], ['ListOffsets', 6, 8], ['Metadata', 9, 12], ['LeaderAndIsr', 4, 7],
  ['StopReplica', 2, 4], ['UpdateMetadata', 6, 8], ['ControlledShutdown', 3, 3], ['OffsetCommit', 8, 9], ['OffsetFetch', 6, 9],
  ['FindCoordinator', 3, 5], ['JoinGroup', 6, 9], ['Heartbeat', 4, 4], ['LeaveGroup', 4, 5], ['SyncGroup', 4, 5],
  ['DescribeGroups', 5, 5], ['ListGroups', 3, 5], ['SaslHandshake', N, 1], ['ApiVersions', 3, 3], ['CreateTopics', 5, 7],
  ['DeleteTopics', 4, 6], ['DeleteRecords', 2, 2], ['InitProducerId', 2, 5], ['OffsetForLeaderEpoch', 4, 4], ['AddPartitionsToTxn', 3, 5],
  ['AddOffsetsToTxn', 3, 4], ['EndTxn', 3, 4], ['WriteTxnMarkers', 1, 1], ['TxnOffsetCommit', 3, 4], ['DescribeAcls', 2, 3],
  ['CreateAcls', 2, 3], ['DeleteAcls', 2, 3], ['DescribeConfigs', 4, 4], ['AlterConfigs', 2, 2], ['AlterReplicaLogDirs', 2, 2],
  ['DescribeLogDirs', 2, 4], ['SaslAuthenticate', 2, 2], ['CreatePartitions', 2, 3], ['CreateDelegationToken', 2, 3], ['RenewDelegationToken', 2, 2],
  ['ExpireDelegationToken', 2, 2], ['DescribeDelegationToken', 2, 3], ['DeleteGroups', 2, 2], ['ElectLeaders', 2, 2], ['IncrementalAlterConfigs', 1, 1],
  ['AlterPartitionReassignments', 0, 0], ['ListPartitionReassignments', 0, 0], ['OffsetDelete', N, 0], ['DescribeClientQuotas', 1, 1], ['AlterClientQuotas', 1, 1],
  ['DescribeUserScramCredentials', 0, 0], ['AlterUserScramCredentials', 0, 0], ['Vote', 0, 0], ['BeginQuorumEpoch', N, 0], ['EndQuorumEpoch', N, 0],
  ['DescribeQuorum', 0, 1], ['AlterPartition', 0, 3], ['UpdateFeatures', 0, 1], ['Envelope', 0, 0], ['FetchSnapshot', 0, 0],
  ['DescribeCluster', 0, 1], ['DescribeProducers', 0, 0], ['BrokerRegistration', 0, 3], ['BrokerHeartbeat', 0, 1], ['UnregisterBroker', 0, 0],
  ['DescribeTransactions', 0, 0], ['ListTransactions', 0, 1], ['AllocateProducerIds', 0, 0], ['ConsumerGroupHeartbeat', 0, 0], ['ConsumerGroupDescribe', 0, 0],
  ['ControllerRegistration', 0, 0], ['GetTelemetrySubscriptions', 0, 0], ['PushTelemetry', 0, 0], ['AssignReplicasToDirs', 0, 0], ['ListClientMetricsResources', 0, 0],
];

/** Versions beyond the highest defined still parse as a known API: brokers move faster than this table. */
const VERSION_SLACK = 4;

export function apiName(key: number): string {
  return APIS[key]?.[0] ?? `ApiKey ${key}`;
}

export function isKnownApi(key: number, version: number): boolean {
  const a = APIS[key];
  return a !== undefined && version >= 0 && version <= a[2] + VERSION_SLACK;
}

export function isFlexible(key: number, version: number): boolean {
  const a = APIS[key];
  return a !== undefined && version >= a[1];
}

/** ApiVersions answers in response header v0 at every version (a client must read it before it knows the broker's versions). */
export function responseHeaderFlexible(key: number, version: number): boolean {
  return key !== ApiKey.ApiVersions && isFlexible(key, version);
}

/**
 * Error codes (https://kafka.apache.org/protocol#protocol_error_codes) and their class: 'c' the
 * request's fault or a state the client must act on (unknown topic, authorization, a rebalance to
 * join, an offset out of range), 's' the broker's (unknown server error, not the leader or the
 * coordinator, not enough replicas, storage: most are retriable). Codes not listed are server errors.
 */
const ERRORS: ReadonlyArray<readonly [name: string, cls: 'c' | 's']> = [
  ['NONE', 'c'], ['OFFSET_OUT_OF_RANGE', 'c'], ['CORRUPT_MESSAGE', 'c'], ['UNKNOWN_TOPIC_OR_PARTITION', 'c'], ['INVALID_FETCH_SIZE', 'c'],
  ['LEADER_NOT_AVAILABLE', 's'], ['NOT_LEADER_OR_FOLLOWER', 's'], ['REQUEST_TIMED_OUT', 's'], ['BROKER_NOT_AVAILABLE', 's'], ['REPLICA_NOT_AVAILABLE', 's'],
  ['MESSAGE_TOO_LARGE', 'c'], ['STALE_CONTROLLER_EPOCH', 's'], ['OFFSET_METADATA_TOO_LARGE', 'c'], ['NETWORK_EXCEPTION', 's'], ['COORDINATOR_LOAD_IN_PROGRESS', 's'],
  ['COORDINATOR_NOT_AVAILABLE', 's'], ['NOT_COORDINATOR', 's'], ['INVALID_TOPIC_EXCEPTION', 'c'], ['RECORD_LIST_TOO_LARGE', 'c'], ['NOT_ENOUGH_REPLICAS', 's'],
  ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 's'], ['INVALID_REQUIRED_ACKS', 'c'], ['ILLEGAL_GENERATION', 'c'], ['INCONSISTENT_GROUP_PROTOCOL', 'c'], ['INVALID_GROUP_ID', 'c'],
  ['UNKNOWN_MEMBER_ID', 'c'], ['INVALID_SESSION_TIMEOUT', 'c'], ['REBALANCE_IN_PROGRESS', 'c'], ['INVALID_COMMIT_OFFSET_SIZE', 'c'], ['TOPIC_AUTHORIZATION_FAILED', 'c'],
  ['GROUP_AUTHORIZATION_FAILED', 'c'], ['CLUSTER_AUTHORIZATION_FAILED', 'c'], ['INVALID_TIMESTAMP', 'c'], ['UNSUPPORTED_SASL_MECHANISM', 'c'], ['ILLEGAL_SASL_STATE', 'c'],
  ['UNSUPPORTED_VERSION', 'c'], ['TOPIC_ALREADY_EXISTS', 'c'], ['INVALID_PARTITIONS', 'c'], ['INVALID_REPLICATION_FACTOR', 'c'], ['INVALID_REPLICA_ASSIGNMENT', 'c'],
  ['INVALID_CONFIG', 'c'], ['NOT_CONTROLLER', 's'], ['INVALID_REQUEST', 'c'], ['UNSUPPORTED_FOR_MESSAGE_FORMAT', 'c'], ['POLICY_VIOLATION', 'c'],
  ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'c'], ['DUPLICATE_SEQUENCE_NUMBER', 'c'], ['INVALID_PRODUCER_EPOCH', 'c'], ['INVALID_TXN_STATE', 'c'], ['INVALID_PRODUCER_ID_MAPPING', 'c'],
  ['INVALID_TRANSACTION_TIMEOUT', 'c'], ['CONCURRENT_TRANSACTIONS', 's'], ['TRANSACTION_COORDINATOR_FENCED', 's'], ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'c'], ['SECURITY_DISABLED', 'c'],
  ['OPERATION_NOT_ATTEMPTED', 'c'], ['KAFKA_STORAGE_ERROR', 's'], ['LOG_DIR_NOT_FOUND', 's'], ['SASL_AUTHENTICATION_FAILED', 'c'], ['UNKNOWN_PRODUCER_ID', 'c'],
  ['REASSIGNMENT_IN_PROGRESS', 'c'], ['DELEGATION_TOKEN_AUTH_DISABLED', 'c'], ['DELEGATION_TOKEN_NOT_FOUND', 'c'], ['DELEGATION_TOKEN_OWNER_MISMATCH', 'c'], ['DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', 'c'],
  ['DELEGATION_TOKEN_AUTHORIZATION_FAILED', 'c'], ['DELEGATION_TOKEN_EXPIRED', 'c'], ['INVALID_PRINCIPAL_TYPE', 'c'], ['NON_EMPTY_GROUP', 'c'], ['GROUP_ID_NOT_FOUND', 'c'],
  ['FETCH_SESSION_ID_NOT_FOUND', 'c'], ['INVALID_FETCH_SESSION_EPOCH', 'c'], ['LISTENER_NOT_FOUND', 's'], ['TOPIC_DELETION_DISABLED', 'c'], ['FENCED_LEADER_EPOCH', 'c'],
  ['UNKNOWN_LEADER_EPOCH', 'c'], ['UNSUPPORTED_COMPRESSION_TYPE', 'c'], ['STALE_BROKER_EPOCH', 's'], ['OFFSET_NOT_AVAILABLE', 's'], ['MEMBER_ID_REQUIRED', 'c'],
  ['PREFERRED_LEADER_NOT_AVAILABLE', 's'], ['GROUP_MAX_SIZE_REACHED', 'c'], ['FENCED_INSTANCE_ID', 'c'], ['ELIGIBLE_LEADERS_NOT_AVAILABLE', 's'], ['ELECTION_NOT_NEEDED', 'c'],
  ['NO_REASSIGNMENT_IN_PROGRESS', 'c'], ['GROUP_SUBSCRIBED_TO_TOPIC', 'c'], ['INVALID_RECORD', 'c'], ['UNSTABLE_OFFSET_COMMIT', 's'], ['THROTTLING_QUOTA_EXCEEDED', 'c'],
  ['PRODUCER_FENCED', 'c'], ['RESOURCE_NOT_FOUND', 'c'], ['DUPLICATE_RESOURCE', 'c'], ['UNACCEPTABLE_CREDENTIAL', 'c'], ['INCONSISTENT_VOTER_SET', 's'],
  ['INVALID_UPDATE_VERSION', 'c'], ['FEATURE_UPDATE_FAILED', 's'], ['PRINCIPAL_DESERIALIZATION_FAILURE', 'c'], ['SNAPSHOT_NOT_FOUND', 's'], ['POSITION_OUT_OF_RANGE', 'c'],
  ['UNKNOWN_TOPIC_ID', 'c'], ['DUPLICATE_BROKER_REGISTRATION', 's'], ['BROKER_ID_NOT_REGISTERED', 's'], ['INCONSISTENT_TOPIC_ID', 'c'], ['INCONSISTENT_CLUSTER_ID', 's'],
  ['TRANSACTIONAL_ID_NOT_FOUND', 'c'], ['FETCH_SESSION_TOPIC_ID_ERROR', 'c'], ['INELIGIBLE_REPLICA', 's'], ['NEW_LEADER_ELECTED', 's'], ['OFFSET_MOVED_TO_TIERED_STORAGE', 'c'],
  ['FENCED_MEMBER_EPOCH', 'c'], ['UNRELEASED_INSTANCE_ID', 'c'], ['UNSUPPORTED_ASSIGNOR', 'c'], ['STALE_MEMBER_EPOCH', 'c'],
];

export function errorName(code: number): string {
  if (code === -1) return 'UNKNOWN_SERVER_ERROR';
  return ERRORS[code]?.[0] ?? `ERROR ${code}`;
}

export function errorOutcome(code: number): Outcome {
  if (code === 0) return Outcome.ok;
  return ERRORS[code]?.[1] === 'c' ? Outcome.clientError : Outcome.serverError;
}

/** How bad an outcome is, for the worst error of a response. */
function severity(code: number): number {
  const o = errorOutcome(code);
  return o === Outcome.ok ? 0 : o === Outcome.clientError ? 1 : 2;
}

/** Attribute rows kept per side (partitions, topics, brokers…): a 1000-partition fetch stays small. */
const MAX_ROWS = 64;
/** Topics named in the target. */
const MAX_TOPICS = 16;

/** What one request or response said, as the entry shows it. */
export class Side {
  readonly rows: Array<[string, string]> = [];
  readonly topics: string[] = [];
  topicCount = 0;
  /** Topics beyond MAX_TOPICS were named. */
  moreTopics = false;
  partitions = 0;
  /** The first partition named (-1 when none). */
  partition = -1;
  group = '';
  /** Every error code read, in wire order (the first MAX_ROWS). */
  readonly errors: number[] = [];
  /** The worst error: server over client over none; the first of its kind. */
  error = 0;
  errorTopic = '';
  errorPartition = -1;
  acks = -2;
  tally: RecordTally | null = null;
  private lastTopic = '';

  constructor(private readonly maxValueBytes: number) {}

  row(name: string, value: string | number): void {
    if (this.rows.length < MAX_ROWS) this.rows.push([name, String(value)]);
  }

  topic(name: string): void {
    this.lastTopic = name;
    this.topicCount++;
    if (this.topics.includes(name)) return;
    if (this.topics.length < MAX_TOPICS) this.topics.push(name);
    else this.moreTopics = true;
  }

  partitionSeen(index: number): void {
    this.partitions++;
    if (this.partition < 0) this.partition = index;
  }

  err(code: number, partition = -1): void {
    if (this.errors.length < MAX_ROWS) this.errors.push(code);
    if (severity(code) > severity(this.error)) {
      this.error = code;
      this.errorTopic = this.lastTopic;
      this.errorPartition = partition;
    }
  }

  records(topic: string, partition: number, r: Reader, flexible: boolean): string {
    const range = r.bytes(flexible);
    if (range === null) return 'no records';
    this.tally ??= new RecordTally(this.maxValueBytes);
    const before = this.tally.records;
    this.tally.add(topic, partition, r.buf, range.start, range.end);
    const n = this.tally.records - before;
    return `${n} record${n === 1 ? '' : 's'}, ${range.end - range.start} bytes`;
  }
}

type Parser = (r: Reader, v: number, f: boolean, s: Side) => void;

const place = (topic: string, partition: number) => `${topic}[${partition}]`;

/** Reads `n` elements with `each`, stopping at a cut. */
function each(r: Reader, f: boolean, read: (i: number) => void): void {
  const n = r.array(f);
  for (let i = 0; i < n && !r.cut; i++) read(i);
}

function int32Array(r: Reader, f: boolean): void {
  each(r, f, () => r.i32());
}

/**
 * The topics → partitions arrays most requests and responses carry: each topic's name (its id
 * from `byId`), each partition's index; `partition` reads the rest of a partition and returns its row.
 */
function partitions(r: Reader, f: boolean, s: Side, partition: (topic: string, p: number) => string, byId = false): void {
  each(r, f, () => {
    const topic = byId ? r.uuid() : r.str(f);
    s.topic(topic);
    each(r, f, () => {
      const p = r.i32();
      s.partitionSeen(p);
      s.row(place(topic, p), partition(topic, p));
      r.tags(f);
    });
    r.tags(f);
  });
}

/** A partition's error code, counted toward the response's worst. */
function partitionError(r: Reader, s: Side, p: number): number {
  const code = r.i16();
  s.err(code, p);
  return code;
}

const requests: Record<number, Parser> = {
  [ApiKey.Produce](r, v, f, s) {
    if (v >= 3) {
      const txn = r.str(f);
      if (txn) s.row('transactional id', txn);
    }
    s.acks = r.i16();
    s.row('timeout ms', r.i32());
    partitions(r, f, s, (topic, p) => s.records(topic, p, r, f));
  },
  [ApiKey.Fetch](r, v, f, s) {
    if (v < 15) r.i32(); // replica id
    s.row('max wait ms', r.i32());
    s.row('min bytes', r.i32());
    if (v >= 3) r.i32();
    if (v >= 4) r.i8();
    if (v >= 7) s.row('session', `${r.i32()} epoch ${r.i32()}`);
    partitions(
      r,
      f,
      s,
      () => {
        if (v >= 9) r.i32();
        const offset = r.i64();
        if (v >= 12) r.i32();
        if (v >= 5) r.i64();
        r.i32();
        return `from offset ${offset}`;
      },
      v >= 13,
    );
  },
  [ApiKey.ListOffsets](r, v, f, s) {
    r.i32();
    if (v >= 2) r.i8();
    partitions(r, f, s, () => {
      if (v >= 4) r.i32();
      const ts = r.i64();
      if (v === 0) r.i32();
      return ts === -1 ? 'latest' : ts === -2 ? 'earliest' : `at ${ts}`;
    });
  },
  [ApiKey.Metadata](r, v, f, s) {
    const n = f ? r.uvarint() - 1 : r.i32();
    if (n < 0) s.row('topics', 'all');
    for (let i = 0; i < n && !r.cut && r.left > 0; i++) {
      if (v >= 10) r.uuid();
      s.topic(r.str(f));
      r.tags(f);
    }
    if (v >= 4) s.row('auto create', r.i8() ? 'yes' : 'no');
  },
  [ApiKey.OffsetCommit](r, v, f, s) {
    s.group = r.str(f);
    if (v >= 1) {
      s.row('generation', r.i32());
      s.row('member id', r.str(f));
    }
    if (v >= 7) r.str(f);
    if (v >= 2 && v <= 4) r.i64();
    partitions(r, f, s, () => {
      const offset = r.i64();
      if (v >= 6) r.i32();
      if (v === 1) r.i64();
      r.str(f);
      return `offset ${offset}`;
    });
  },
  [ApiKey.OffsetFetch](r, v, f, s) {
    const topics = () =>
      each(r, f, () => {
        const topic = r.str(f);
        s.topic(topic);
        each(r, f, () => s.partitionSeen(r.i32()));
        r.tags(f);
      });
    if (v <= 7) {
      s.group = r.str(f);
      topics();
      return;
    }
    each(r, f, (i) => {
      const group = r.str(f);
      if (i === 0) s.group = group;
      topics();
      r.tags(f);
    });
  },
  [ApiKey.FindCoordinator](r, v, f, s) {
    if (v <= 3) {
      s.group = r.str(f);
      if (v >= 1) s.row('key type', r.i8() === 1 ? 'transaction' : 'group');
      return;
    }
    s.row('key type', r.i8() === 1 ? 'transaction' : 'group');
    each(r, f, (i) => {
      const key = r.str(f);
      if (i === 0) s.group = key;
    });
  },
  [ApiKey.JoinGroup](r, v, f, s) {
    s.group = r.str(f);
    s.row('session timeout ms', r.i32());
    if (v >= 1) r.i32();
    s.row('member id', r.str(f));
    if (v >= 5) r.str(f);
    s.row('protocol type', r.str(f));
    const names: string[] = [];
    each(r, f, () => {
      names.push(r.str(f));
      r.skipBytes(f);
      r.tags(f);
    });
    s.row('protocols', names.join(', '));
  },
  [ApiKey.Heartbeat](r, v, f, s) {
    s.group = r.str(f);
    s.row('generation', r.i32());
    s.row('member id', r.str(f));
  },
  [ApiKey.LeaveGroup](r, v, f, s) {
    s.group = r.str(f);
    if (v <= 2) s.row('member id', r.str(f));
    else
      each(r, f, () => {
        s.row('member id', r.str(f));
        r.str(f);
        if (v >= 5) r.str(f);
        r.tags(f);
      });
  },
  [ApiKey.SyncGroup](r, v, f, s) {
    s.group = r.str(f);
    s.row('generation', r.i32());
    s.row('member id', r.str(f));
    if (v >= 3) r.str(f);
    if (v >= 5) {
      r.str(f);
      r.str(f);
    }
    let n = 0;
    each(r, f, () => {
      r.str(f);
      r.skipBytes(f);
      r.tags(f);
      n++;
    });
    s.row('assignments', n);
  },
  [ApiKey.SaslHandshake](r, _v, f, s) {
    s.row('mechanism', r.str(f));
  },
  [ApiKey.ApiVersions](r, v, f, s) {
    if (v >= 3) s.row('client software', `${r.str(f)} ${r.str(f)}`);
  },
  [ApiKey.CreateTopics](r, v, f, s) {
    each(r, f, () => {
      const topic = r.str(f);
      s.topic(topic);
      const partitions = r.i32();
      const replication = r.i16();
      each(r, f, () => {
        r.i32();
        int32Array(r, f);
        r.tags(f);
      });
      each(r, f, () => {
        r.str(f);
        r.str(f);
        r.tags(f);
      });
      r.tags(f);
      s.row(topic, `${partitions} partitions, replication ${replication}`);
    });
    s.row('timeout ms', r.i32());
    if (v >= 1) s.row('validate only', r.i8() ? 'yes' : 'no');
  },
  [ApiKey.SaslAuthenticate](r, _v, f, s) {
    // The SASL exchange (PLAIN's password, SCRAM's proofs) is never read: only its length.
    s.row('auth bytes', `${Math.max(0, r.skipBytes(f))} bytes, not kept`);
  },
};

function throttle(r: Reader, s: Side): void {
  const ms = r.i32();
  if (ms > 0) s.row('throttle ms', ms);
}

const responses: Record<number, Parser> = {
  [ApiKey.Produce](r, v, f, s) {
    partitions(r, f, s, (_topic, p) => {
      const code = partitionError(r, s, p);
      const offset = r.i64();
      if (v >= 2) r.i64();
      if (v >= 5) r.i64();
      let message = '';
      if (v >= 8) {
        each(r, f, () => {
          r.i32();
          r.str(f);
          r.tags(f);
        });
        message = r.str(f);
      }
      return `${errorName(code)}${message ? ` (${message})` : ''}, base offset ${offset}`;
    });
    if (v >= 1) throttle(r, s);
  },
  [ApiKey.Fetch](r, v, f, s) {
    if (v >= 1) throttle(r, s);
    if (v >= 7) {
      s.err(r.i16());
      r.i32();
    }
    partitions(
      r,
      f,
      s,
      (topic, p) => {
        const code = partitionError(r, s, p);
        const high = r.i64();
        if (v >= 4) r.i64();
        if (v >= 5) r.i64();
        if (v >= 4)
          each(r, f, () => {
            r.i64();
            r.i64();
            r.tags(f);
          });
        if (v >= 11) r.i32();
        return `${errorName(code)}, high watermark ${high}, ${s.records(topic, p, r, f)}`;
      },
      v >= 13,
    );
  },
  [ApiKey.ListOffsets](r, v, f, s) {
    if (v >= 2) throttle(r, s);
    partitions(r, f, s, (_topic, p) => {
      const code = partitionError(r, s, p);
      let offset = -1;
      if (v === 0) each(r, f, (i) => (i === 0 ? (offset = r.i64()) : r.i64()));
      else {
        r.i64();
        offset = r.i64();
      }
      if (v >= 4) r.i32();
      return `${errorName(code)}, offset ${offset}`;
    });
  },
  [ApiKey.Metadata](r, v, f, s) {
    if (v >= 3) throttle(r, s);
    each(r, f, () => {
      const id = r.i32();
      const host = r.str(f);
      const port = r.i32();
      if (v >= 1) r.str(f);
      r.tags(f);
      s.row(`broker ${id}`, `${host}:${port}`);
    });
    if (v >= 2) {
      const cluster = r.str(f);
      if (cluster) s.row('cluster id', cluster);
    }
    if (v >= 1) s.row('controller', r.i32());
    each(r, f, () => {
      const code = r.i16();
      const topic = r.str(f);
      s.topic(topic);
      s.err(code);
      if (v >= 10) r.uuid();
      if (v >= 1) r.i8();
      let partitions = 0;
      each(r, f, () => {
        const pcode = r.i16();
        const p = r.i32();
        s.partitionSeen(p);
        s.err(pcode, p);
        r.i32();
        if (v >= 7) r.i32();
        int32Array(r, f);
        int32Array(r, f);
        if (v >= 5) int32Array(r, f);
        r.tags(f);
        partitions++;
      });
      if (v >= 8) r.i32();
      r.tags(f);
      s.row(topic, `${errorName(code)}, ${partitions} partitions`);
    });
  },
  [ApiKey.OffsetCommit](r, v, f, s) {
    if (v >= 3) throttle(r, s);
    partitions(r, f, s, (_topic, p) => errorName(partitionError(r, s, p)));
  },
  [ApiKey.OffsetFetch](r, v, f, s) {
    if (v >= 3) throttle(r, s);
    const topics = () =>
      partitions(r, f, s, (_topic, p) => {
        const offset = r.i64();
        if (v >= 5) r.i32();
        r.str(f);
        return `${errorName(partitionError(r, s, p))}, committed ${offset}`;
      });
    if (v <= 7) {
      topics();
      if (v >= 2) s.err(r.i16());
      return;
    }
    each(r, f, () => {
      s.group ||= r.str(f);
      topics();
      s.err(r.i16());
      r.tags(f);
    });
  },
  [ApiKey.FindCoordinator](r, v, f, s) {
    if (v >= 1) throttle(r, s);
    const coordinator = (label: string) => {
      const id = r.i32();
      const host = r.str(f);
      s.row(label, `${id} ${host}:${r.i32()}`);
    };
    if (v <= 3) {
      s.err(r.i16());
      if (v >= 1) r.str(f);
      coordinator('coordinator');
      return;
    }
    each(r, f, () => {
      const key = r.str(f);
      coordinator(`coordinator ${key}`);
      s.err(r.i16());
      r.str(f);
      r.tags(f);
    });
  },
  [ApiKey.JoinGroup](r, v, f, s) {
    if (v >= 2) throttle(r, s);
    s.err(r.i16());
    s.row('generation', r.i32());
    if (v >= 7) r.str(f);
    s.row('protocol', r.str(f));
    s.row('leader', r.str(f));
    if (v >= 9) r.i8();
    s.row('member id', r.str(f));
    let n = 0;
    each(r, f, () => {
      r.str(f);
      if (v >= 5) r.str(f);
      r.skipBytes(f);
      r.tags(f);
      n++;
    });
    s.row('members', n);
  },
  [ApiKey.Heartbeat](r, v, f, s) {
    if (v >= 1) throttle(r, s);
    s.err(r.i16());
  },
  [ApiKey.LeaveGroup](r, v, f, s) {
    if (v >= 1) throttle(r, s);
    s.err(r.i16());
    if (v >= 3)
      each(r, f, () => {
        r.str(f);
        r.str(f);
        s.err(r.i16());
        r.tags(f);
      });
  },
  [ApiKey.SyncGroup](r, v, f, s) {
    if (v >= 1) throttle(r, s);
    s.err(r.i16());
    if (v >= 5) {
      r.str(f);
      r.str(f);
    }
    s.row('assignment bytes', Math.max(0, r.skipBytes(f)));
  },
  [ApiKey.SaslHandshake](r, _v, f, s) {
    s.err(r.i16());
    const mechanisms: string[] = [];
    each(r, f, () => mechanisms.push(r.str(f)));
    s.row('mechanisms', mechanisms.join(', '));
  },
  [ApiKey.ApiVersions](r, v, f, s) {
    const code = r.i16();
    s.err(code);
    // A broker that does not support the version asked answers UNSUPPORTED_VERSION with the versions
    // it does support, in v0's format (KIP-511; librdkafka's mock cluster in a format of its own):
    // of no use once the code says it all, so not read.
    if (code === 35) return;
    let n = 0;
    each(r, f, () => {
      const key = r.i16();
      const min = r.i16();
      const max = r.i16();
      r.tags(f);
      if (n++ < MAX_ROWS - 2) s.row(apiName(key), `v${min}-${max}`);
    });
    if (v >= 1) throttle(r, s);
  },
  [ApiKey.CreateTopics](r, v, f, s) {
    if (v >= 2) throttle(r, s);
    each(r, f, () => {
      const topic = r.str(f);
      s.topic(topic);
      if (v >= 7) r.uuid();
      const code = r.i16();
      s.err(code);
      const message = v >= 1 ? r.str(f) : '';
      if (v >= 5) {
        r.i32();
        r.i16();
        const n = f ? r.uvarint() - 1 : r.i32();
        for (let i = 0; i < n && !r.cut && r.left > 0; i++) {
          r.str(f);
          r.str(f);
          r.i8();
          r.i8();
          r.i8();
          r.tags(f);
        }
      }
      r.tags(f);
      s.row(topic, `${errorName(code)}${message ? ` (${message})` : ''}`);
    });
  },
  [ApiKey.SaslAuthenticate](r, v, f, s) {
    s.err(r.i16());
    const message = r.str(f);
    if (message) s.row('error message', message);
    // The server's SASL answer (SCRAM's server-final message) is not kept either.
    r.skipBytes(f);
    if (v >= 1) s.row('session lifetime ms', r.i64());
  },
};

/** Parses a request body; false when the API has no parser here (the entry keeps key and version). */
export function parseRequest(key: number, r: Reader, version: number, s: Side): boolean {
  const p = requests[key];
  if (!p) return false;
  p(r, version, isFlexible(key, version), s);
  return true;
}

export function parseResponse(key: number, r: Reader, version: number, s: Side): boolean {
  const p = responses[key];
  if (!p) return false;
  p(r, version, isFlexible(key, version), s);
  return true;
}
