/**
 * Test support for WebSocket: tshark's reading of a capture (its `websocket` dissector, reached by
 * decoding the port as HTTP so it sees the upgrade), frames grouped into messages the way RFC 6455
 * §5.4 defines them, and the same view of our entries, to compare the two.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Entry } from '../../src/entries/entry.js';
import { CLOSE_CODE, CLOSE_REASON } from '../../src/protocols/websocket/dissector.js';

const run = promisify(execFile);

/** One message as both sides are compared: who sent it, its opcode, frames, payload, close code. */
export interface WsView {
  clientPort: number;
  from: 'client' | 'server';
  opcode: number;
  frames: number;
  /** Text as text, anything else as hex. */
  payload: string;
  closeCode: number | null;
}

interface TsharkFrame {
  frame: number;
  srcPort: number;
  dstPort: number;
  fin: boolean;
  opcode: number;
  text: string;
  closeCode: string;
  closeReason: string;
  hex: string;
}

// The unit separator: no message of the tests contains it.
const AGG = '\x1f';

/** Every WebSocket frame tshark finds in `file` (the port decoded as HTTP), several a segment apart. */
async function tsharkFrames(file: string, port: number): Promise<TsharkFrame[]> {
  const fields = [
    'frame.number', 'tcp.srcport', 'tcp.dstport', 'websocket.fin', 'websocket.opcode', 'websocket.payload.text',
    'websocket.payload.close.status_code', 'websocket.payload.close.reason', 'websocket.payload.ping', 'websocket.payload.pong', 'data.data',
  ];
  const args = ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},http`, '-Y', 'websocket', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', `aggregator=${AGG}`];
  for (const f of fields) args.push('-e', f);
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 30 });
  const out: TsharkFrame[] = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [frame, sport, dport, fins, opcodes, texts, codes, reasons, pings, pongs, data] = line.split('\t');
    const list = (s: string) => s.split(AGG);
    const finL = list(fins);
    const opL = list(opcodes);
    // Per-frame lists that only some frames fill: consumed in order by the frames they belong to.
    const textL = texts ? list(texts) : [];
    const codeL = codes ? list(codes) : [];
    const reasonL = reasons ? list(reasons) : [];
    const hexL = [...(pings ? list(pings) : []), ...(pongs ? list(pongs) : []), ...(data ? list(data) : [])];
    for (let i = 0; i < opL.length; i++) {
      const opcode = Number(opL[i]);
      const fin = finL[i] === '1' || finL[i] === 'True';
      const f: TsharkFrame = { frame: Number(frame), srcPort: Number(sport), dstPort: Number(dport), fin, opcode, text: '', closeCode: '', closeReason: '', hex: '' };
      if (opcode === 8) {
        f.closeCode = codeL.shift() ?? '';
        f.closeReason = reasonL.shift() ?? '';
      } else if (opcode !== 0 || fin) {
        // tshark shows a fragmented message's payload on its last frame, reassembled.
        if (textL.length > 0 && (opcode === 1 || opcode === 0)) f.text = textL.shift()!;
        else if (opcode >= 9 || opcode === 2 || opcode === 0) f.hex = hexL.shift() ?? '';
      }
      out.push(f);
    }
  }
  return out;
}

/**
 * tshark's frames as messages: per connection and sender, data frames up to FIN are one message,
 * control frames are their own. Only frames one segment holds are paired this simply: the tests
 * send messages small enough (tshark's lists are per segment).
 */
export async function tsharkMessages(file: string, port: number): Promise<WsView[]> {
  const open = new Map<string, WsView>();
  const all: WsView[] = [];
  for (const f of await tsharkFrames(file, port)) {
    // Other ports of the capture (tshark finds their upgrades too).
    if (f.srcPort !== port && f.dstPort !== port) continue;
    const from = f.dstPort === port ? 'client' : 'server';
    const clientPort = from === 'client' ? f.srcPort : f.dstPort;
    const key = `${clientPort} ${from}`;
    if (f.opcode >= 8) {
      const payload = f.opcode === 8 ? f.closeReason : f.hex;
      all.push({ clientPort, from, opcode: f.opcode, frames: 1, payload, closeCode: f.closeCode === '' ? null : Number(f.closeCode) });
      continue;
    }
    let m = open.get(key);
    if (!m) {
      m = { clientPort, from, opcode: f.opcode, frames: 0, payload: '', closeCode: null };
      open.set(key, m);
    }
    m.frames++;
    if (f.fin) {
      m.payload = m.opcode === 1 ? f.text : f.hex;
      open.delete(key);
      all.push(m);
    }
  }
  return all;
}

/** Our entries in the same terms (a ping or close entry stands for its own frame; its reply is another row). */
export function entryMessages(entries: Entry[]): WsView[] {
  const out: WsView[] = [];
  for (const e of entries) {
    if (e.protocol !== 'websocket') continue;
    const opcode = e.fields['websocket.opcode'] as number;
    const from = e.fields['websocket.direction'] as 'client' | 'server';
    const payload = opcode === 1 ? e.requestBody.bytes.toString('utf8') : opcode === 8 ? e.statusText : e.requestBody.bytes.toString('hex');
    const clientPort = e.src.port;
    out.push({
      clientPort,
      from,
      opcode,
      frames: e.fields['websocket.frames'] as number,
      payload,
      closeCode: opcode === 8 ? ((e.fields['websocket.close_code'] as number | undefined) ?? null) : null,
    });
    if (e.unanswered || (opcode !== 8 && opcode !== 9)) continue;
    // The reply the entry holds: the other side's pong or close frame.
    const other = from === 'client' ? 'server' : 'client';
    if (opcode === 9) out.push({ clientPort, from: other, opcode: 10, frames: 1, payload: e.responseBody.bytes.toString('hex'), closeCode: null });
    else {
      const code = e.responseHeaders.get(CLOSE_CODE);
      out.push({ clientPort, from: other, opcode: 8, frames: 1, payload: e.responseHeaders.get(CLOSE_REASON) ?? '', closeCode: code === undefined ? null : Number(code) });
    }
  }
  return out;
}

/** Both views as lines sorted the same way: by client port, then sender, keeping each sender's order. */
export function bySender(views: WsView[]): string[] {
  return views
    .map((v, i) => ({ v, i }))
    .sort((a, b) => a.v.clientPort - b.v.clientPort || a.v.from.localeCompare(b.v.from) || a.i - b.i)
    .map(({ v }) => `${v.clientPort} ${v.from} op=${v.opcode} frames=${v.frames} close=${v.closeCode} ${v.payload.length}:${v.payload.slice(0, 60)}`);
}
