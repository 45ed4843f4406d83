/**
 * Test support: PostgreSQL v3 messages built by hand, byte for byte as the protocol's
 * documentation defines them (postgresql.org/docs/15/protocol-message-formats.html).
 */

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s), Buffer.from([0])]);
}

const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** A typed message: its type byte, a length counting itself, the body. */
export function msg(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

export function startup(params: Record<string, string>): Buffer {
  const body = Buffer.concat([int32(196608), ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
  return Buffer.concat([int32(body.length + 4), body]);
}

export const sslRequest = () => Buffer.concat([int32(8), int32(80877103)]);
export const gssencRequest = () => Buffer.concat([int32(8), int32(80877104)]);
export const cancelRequest = (pid: number, key: number) => Buffer.concat([int32(16), int32(80877102), int32(pid), int32(key)]);

export const query = (text: string) => msg('Q', cstr(text));
export const parse = (name: string, text: string) => msg('P', cstr(name), cstr(text), int16(0));
export function bind(portal: string, statement: string, params: Array<string | null>): Buffer {
  const values = params.flatMap((p) => (p === null ? [int32(-1)] : [int32(Buffer.byteLength(p)), Buffer.from(p)]));
  return msg('B', cstr(portal), cstr(statement), int16(0), int16(params.length), ...values, int16(0));
}
export const describe = (kind: 'S' | 'P', name: string) => msg('D', Buffer.from(kind), cstr(name));
export const execute = (portal: string, maxRows = 0) => msg('E', cstr(portal), int32(maxRows));
export const sync = () => msg('S');
export const password = (pw: string) => msg('p', cstr(pw));
export const copyData = (data: string) => msg('d', Buffer.from(data));
export const copyDone = () => msg('c');
export const copyFail = (why: string) => msg('f', cstr(why));

export const authOk = () => msg('R', int32(0));
export const authCleartext = () => msg('R', int32(3));
export const parameterStatus = (name: string, value: string) => msg('S', cstr(name), cstr(value));
export const backendKey = (pid: number, key: number) => msg('K', int32(pid), int32(key));
export const ready = (status: 'I' | 'T' | 'E' = 'I') => msg('Z', Buffer.from(status));
export const parseComplete = () => msg('1');
export const bindComplete = () => msg('2');
export const noData = () => msg('n');
export const portalSuspended = () => msg('s');
export const emptyQuery = () => msg('I');
export const complete = (tag: string) => msg('C', cstr(tag));
export function rowDescription(names: string[]): Buffer {
  return msg('T', int16(names.length), ...names.flatMap((n) => [cstr(n), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)]));
}
export function dataRow(values: Array<string | null>): Buffer {
  return msg('D', int16(values.length), ...values.flatMap((v) => (v === null ? [int32(-1)] : [int32(Buffer.byteLength(v)), Buffer.from(v)])));
}
export function errorResponse(code: string, message: string, severity = 'ERROR', extra: Record<string, string> = {}): Buffer {
  const fields = { S: severity, V: severity, C: code, M: message, ...extra };
  return msg('E', ...Object.entries(fields).map(([k, v]) => Buffer.concat([Buffer.from(k), cstr(v)])), Buffer.from([0]));
}
export const notice = (code: string, message: string) => msg('N', Buffer.from('S'), cstr('WARNING'), Buffer.from('C'), cstr(code), Buffer.from('M'), cstr(message), Buffer.from([0]));
export const notification = (pid: number, channel: string, payload: string) => msg('A', int32(pid), cstr(channel), cstr(payload));
export const copyInResponse = () => msg('G', Buffer.from([0]), int16(0));
export const copyOutResponse = () => msg('H', Buffer.from([0]), int16(0));
