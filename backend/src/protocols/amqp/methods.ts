/**
 * AMQP 0-9-1 methods (the spec's classes and methods, with RabbitMQ's extensions) and their
 * arguments: what each is called, what it carries, which reply answers it.
 */

/** Argument types as the spec names them; bits are packed into octets, consecutive bits sharing one. */
export type ArgType = 'octet' | 'short' | 'long' | 'longlong' | 'shortstr' | 'longstr' | 'bit' | 'table' | 'timestamp';

export interface MethodSpec {
  /** 'Queue.Declare', as tshark and the spec name it. */
  name: string;
  args: ReadonlyArray<readonly [name: string, type: ArgType]>;
  /** The method ids (same class) that answer it; empty when it expects no reply. */
  replies: readonly number[];
  /** Followed by a content header and body frames (Basic.Publish, Deliver, Return, Get-Ok). */
  content: boolean;
}

const close = [['reply_code', 'short'], ['reply_text', 'shortstr'], ['class_id', 'short'], ['method_id', 'short']] as const;
const bind = [['ticket', 'short'], ['destination', 'shortstr'], ['source', 'shortstr'], ['routing_key', 'shortstr'], ['nowait', 'bit'], ['arguments', 'table']] as const;

type Row = [method: number, name: string, args: MethodSpec['args'], replies?: number[], content?: boolean];

const CLASSES: Array<[classId: number, className: string, methods: Row[]]> = [
  [10, 'Connection', [
    [10, 'Start', [['version_major', 'octet'], ['version_minor', 'octet'], ['server_properties', 'table'], ['mechanisms', 'longstr'], ['locales', 'longstr']], [11]],
    [11, 'Start-Ok', [['client_properties', 'table'], ['mechanism', 'shortstr'], ['response', 'longstr'], ['locale', 'shortstr']]],
    [20, 'Secure', [['challenge', 'longstr']], [21]],
    [21, 'Secure-Ok', [['response', 'longstr']]],
    [30, 'Tune', [['channel_max', 'short'], ['frame_max', 'long'], ['heartbeat', 'short']], [31]],
    [31, 'Tune-Ok', [['channel_max', 'short'], ['frame_max', 'long'], ['heartbeat', 'short']]],
    [40, 'Open', [['virtual_host', 'shortstr'], ['capabilities', 'shortstr'], ['insist', 'bit']], [41]],
    [41, 'Open-Ok', [['known_hosts', 'shortstr']]],
    [50, 'Close', close, [51]],
    [51, 'Close-Ok', []],
    [60, 'Blocked', [['reason', 'shortstr']]],
    [61, 'Unblocked', []],
    [70, 'Update-Secret', [['new_secret', 'longstr'], ['reason', 'shortstr']], [71]],
    [71, 'Update-Secret-Ok', []],
  ]],
  [20, 'Channel', [
    [10, 'Open', [['out_of_band', 'shortstr']], [11]],
    [11, 'Open-Ok', [['channel_id', 'longstr']]],
    [20, 'Flow', [['active', 'bit']], [21]],
    [21, 'Flow-Ok', [['active', 'bit']]],
    [40, 'Close', close, [41]],
    [41, 'Close-Ok', []],
  ]],
  [40, 'Exchange', [
    [10, 'Declare', [['ticket', 'short'], ['exchange', 'shortstr'], ['type', 'shortstr'], ['passive', 'bit'], ['durable', 'bit'], ['auto_delete', 'bit'], ['internal', 'bit'], ['nowait', 'bit'], ['arguments', 'table']], [11]],
    [11, 'Declare-Ok', []],
    [20, 'Delete', [['ticket', 'short'], ['exchange', 'shortstr'], ['if_unused', 'bit'], ['nowait', 'bit']], [21]],
    [21, 'Delete-Ok', []],
    [30, 'Bind', bind, [31]],
    [31, 'Bind-Ok', []],
    [40, 'Unbind', bind, [51]],
    [51, 'Unbind-Ok', []],
  ]],
  [50, 'Queue', [
    [10, 'Declare', [['ticket', 'short'], ['queue', 'shortstr'], ['passive', 'bit'], ['durable', 'bit'], ['exclusive', 'bit'], ['auto_delete', 'bit'], ['nowait', 'bit'], ['arguments', 'table']], [11]],
    [11, 'Declare-Ok', [['queue', 'shortstr'], ['message_count', 'long'], ['consumer_count', 'long']]],
    [20, 'Bind', [['ticket', 'short'], ['queue', 'shortstr'], ['exchange', 'shortstr'], ['routing_key', 'shortstr'], ['nowait', 'bit'], ['arguments', 'table']], [21]],
    [21, 'Bind-Ok', []],
    [30, 'Purge', [['ticket', 'short'], ['queue', 'shortstr'], ['nowait', 'bit']], [31]],
    [31, 'Purge-Ok', [['message_count', 'long']]],
    [40, 'Delete', [['ticket', 'short'], ['queue', 'shortstr'], ['if_unused', 'bit'], ['if_empty', 'bit'], ['nowait', 'bit']], [41]],
    [41, 'Delete-Ok', [['message_count', 'long']]],
    [50, 'Unbind', [['ticket', 'short'], ['queue', 'shortstr'], ['exchange', 'shortstr'], ['routing_key', 'shortstr'], ['arguments', 'table']], [51]],
    [51, 'Unbind-Ok', []],
  ]],
  [60, 'Basic', [
    [10, 'Qos', [['prefetch_size', 'long'], ['prefetch_count', 'short'], ['global', 'bit']], [11]],
    [11, 'Qos-Ok', []],
    [20, 'Consume', [['ticket', 'short'], ['queue', 'shortstr'], ['consumer_tag', 'shortstr'], ['no_local', 'bit'], ['no_ack', 'bit'], ['exclusive', 'bit'], ['nowait', 'bit'], ['arguments', 'table']], [21]],
    [21, 'Consume-Ok', [['consumer_tag', 'shortstr']]],
    [30, 'Cancel', [['consumer_tag', 'shortstr'], ['nowait', 'bit']], [31]],
    [31, 'Cancel-Ok', [['consumer_tag', 'shortstr']]],
    [40, 'Publish', [['ticket', 'short'], ['exchange', 'shortstr'], ['routing_key', 'shortstr'], ['mandatory', 'bit'], ['immediate', 'bit']], [], true],
    [50, 'Return', [['reply_code', 'short'], ['reply_text', 'shortstr'], ['exchange', 'shortstr'], ['routing_key', 'shortstr']], [], true],
    [60, 'Deliver', [['consumer_tag', 'shortstr'], ['delivery_tag', 'longlong'], ['redelivered', 'bit'], ['exchange', 'shortstr'], ['routing_key', 'shortstr']], [], true],
    [70, 'Get', [['ticket', 'short'], ['queue', 'shortstr'], ['no_ack', 'bit']], [71, 72]],
    [71, 'Get-Ok', [['delivery_tag', 'longlong'], ['redelivered', 'bit'], ['exchange', 'shortstr'], ['routing_key', 'shortstr'], ['message_count', 'long']], [], true],
    [72, 'Get-Empty', [['cluster_id', 'shortstr']]],
    [80, 'Ack', [['delivery_tag', 'longlong'], ['multiple', 'bit']]],
    [90, 'Reject', [['delivery_tag', 'longlong'], ['requeue', 'bit']]],
    [100, 'Recover-Async', [['requeue', 'bit']]],
    [110, 'Recover', [['requeue', 'bit']], [111]],
    [111, 'Recover-Ok', []],
    [120, 'Nack', [['delivery_tag', 'longlong'], ['multiple', 'bit'], ['requeue', 'bit']]],
  ]],
  [85, 'Confirm', [
    [10, 'Select', [['nowait', 'bit']], [11]],
    [11, 'Select-Ok', []],
  ]],
  [90, 'Tx', [
    [10, 'Select', [], [11]],
    [11, 'Select-Ok', []],
    [20, 'Commit', [], [21]],
    [21, 'Commit-Ok', []],
    [30, 'Rollback', [], [31]],
    [31, 'Rollback-Ok', []],
  ]],
];

/** Methods by `classId << 16 | methodId`. */
const METHODS = new Map<number, MethodSpec>();
/** The methods that answer another (the -Ok replies, Basic.Get-Ok and Get-Empty). */
const REPLIES = new Set<number>();
/** Names of the methods that expect a reply (unless sent with nowait). */
const ASKING = new Set<string>();
for (const [classId, className, rows] of CLASSES) {
  for (const [id, name, args, replies = [], content = false] of rows) {
    const spec = { name: `${className}.${name}`, args, replies, content };
    METHODS.set((classId << 16) | id, spec);
    for (const r of replies) REPLIES.add((classId << 16) | r);
    if (replies.length > 0) ASKING.add(spec.name);
  }
}

/** Does method `key` answer a request? */
export function isReply(key: number): boolean {
  return REPLIES.has(key);
}

/** Does the method called `name` expect a reply (when not sent with nowait)? */
export function expectsReply(name: string): boolean {
  return ASKING.has(name);
}

export const methodKey = (classId: number, methodId: number): number => (classId << 16) | methodId;

export function methodSpec(key: number): MethodSpec | undefined {
  return METHODS.get(key);
}

/** The name of a method, known or not (as `class.method` numbers). */
export function methodName(key: number): string {
  return METHODS.get(key)?.name ?? `${key >>> 16}.${key & 0xffff}`;
}

export const Method = {
  connectionStartOk: methodKey(10, 11),
  connectionSecureOk: methodKey(10, 21),
  connectionClose: methodKey(10, 50),
  connectionUpdateSecret: methodKey(10, 70),
  channelClose: methodKey(20, 40),
  basicConsume: methodKey(60, 20),
  basicPublish: methodKey(60, 40),
  basicReturn: methodKey(60, 50),
  basicDeliver: methodKey(60, 60),
  basicGet: methodKey(60, 70),
  basicGetOk: methodKey(60, 71),
  basicAck: methodKey(60, 80),
  basicNack: methodKey(60, 120),
  confirmSelect: methodKey(85, 10),
  confirmSelectOk: methodKey(85, 11),
} as const;

/** Reply codes (AMQP 0-9-1 §1.9 constants) by value. */
const REPLY_CODES = new Map<number, string>([
  [200, 'REPLY_SUCCESS'],
  [311, 'CONTENT_TOO_LARGE'],
  [312, 'NO_ROUTE'],
  [313, 'NO_CONSUMERS'],
  [320, 'CONNECTION_FORCED'],
  [402, 'INVALID_PATH'],
  [403, 'ACCESS_REFUSED'],
  [404, 'NOT_FOUND'],
  [405, 'RESOURCE_LOCKED'],
  [406, 'PRECONDITION_FAILED'],
  [501, 'FRAME_ERROR'],
  [502, 'SYNTAX_ERROR'],
  [503, 'COMMAND_INVALID'],
  [504, 'CHANNEL_ERROR'],
  [505, 'UNEXPECTED_FRAME'],
  [506, 'RESOURCE_ERROR'],
  [530, 'NOT_ALLOWED'],
  [540, 'NOT_IMPLEMENTED'],
  [541, 'INTERNAL_ERROR'],
]);

export function replyCodeName(code: number): string {
  return REPLY_CODES.get(code) ?? `reply code ${code}`;
}

/** Reply codes that say the broker failed (or closed on its own), not that the client asked wrongly. */
export const SERVER_REPLY_CODES: ReadonlySet<number> = new Set([320, 506, 540, 541]);
