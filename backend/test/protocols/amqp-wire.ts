/** Test support: AMQP 0-9-1 frames built from the spec, for hand-made conversations. */
export const HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

export const u8 = (n: number) => Buffer.from([n]);
export const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
export const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
export const shortstr = (s: string) => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]);
export const longstr = (s: string | Buffer) => {
  const b = Buffer.from(s);
  return Buffer.concat([u32(b.length), b]);
};
/** Table entries: strings as 'S', numbers as 'I'. */
export const entriesOf = (t: Record<string, string | number>) =>
  Buffer.concat(Object.entries(t).map(([k, v]) => Buffer.concat([shortstr(k), typeof v === 'string' ? Buffer.concat([Buffer.from('S'), longstr(v)]) : Buffer.concat([Buffer.from('I'), u32(v)])])));
export const table = (t: Record<string, string | number>) => longstr(entriesOf(t));
export const bits = (...b: boolean[]) => u8(b.reduce((acc, v, i) => acc | ((v ? 1 : 0) << i), 0));
export const frame = (type: number, channel: number, payload: Buffer, end = 0xce) => Buffer.concat([u8(type), u16(channel), u32(payload.length), payload, u8(end)]);
export const method = (channel: number, classId: number, methodId: number, ...args: Buffer[]) => frame(1, channel, Buffer.concat([u16(classId), u16(methodId), ...args]));
/** A content header: class 60, the body size, content-type and headers. */
export const contentHeader = (channel: number, bodySize: number, contentType?: string, headers?: Record<string, string | number>) => {
  const flags = (contentType !== undefined ? 0x8000 : 0) | (headers !== undefined ? 0x2000 : 0);
  return frame(2, channel, Buffer.concat([u16(60), u16(0), u64(bodySize), u16(flags), contentType !== undefined ? shortstr(contentType) : Buffer.alloc(0), headers !== undefined ? table(headers) : Buffer.alloc(0)]));
};
export const body = (channel: number, b: Buffer | string) => frame(3, channel, Buffer.from(b));

export const start = () => method(0, 10, 10, u8(0), u8(9), table({ product: 'RabbitMQ' }), longstr('AMQPLAIN PLAIN'), longstr('en_US'));
export const startOk = (mechanism = 'AMQPLAIN', response: Buffer = entriesOf({ LOGIN: 'svc', PASSWORD: 's3cr3t-amqplain' })) =>
  method(0, 10, 11, table({ product: 'test' }), shortstr(mechanism), longstr(response), shortstr('en_US'));
export const channelOpen = (ch: number) => method(ch, 20, 10, shortstr(''));
export const channelOpenOk = (ch: number) => method(ch, 20, 11, longstr(''));
export const publish = (ch: number, exchange: string, key: string) => method(ch, 60, 40, u16(0), shortstr(exchange), shortstr(key), bits(false, false));
export const queueDeclare = (ch: number, queue: string, nowait = false) => method(ch, 50, 10, u16(0), shortstr(queue), bits(false, false, false, false, nowait), table({}));
export const declareOk = (ch: number, queue: string) => method(ch, 50, 11, shortstr(queue), u32(0), u32(0));
