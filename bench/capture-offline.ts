/**
 * Benchmark: `tapline import` on a keep-alive HTTP capture of ≥ 200k packets, against tshark's fast
 * field output and against bare read loops (the ceiling).
 *
 *   node --import tsx bench/capture-offline.ts [--packets 200000] [--keep FILE] [--file FILE [--import-only]]
 *
 * Builds the capture from real traffic: wrk (keep-alive) against nginx on loopback, captured by
 * tcpdump. Then, on the same file, one after the other: node_pcap's offline loop doing nothing
 * (libpcap's read ceiling through Node), Tapline's file reader doing nothing, the import pipeline
 * into a counting sink, the import pipeline into the store's Native encoder (every entry encoded,
 * batch by batch as the writer does, no engine: what `tapline import --store` costs before the
 * insert), the `tapline import --json` command into /dev/null, and `tshark -T fields` (NOTES.md's
 * fast form). Prints packets/s, HTTP transactions/s and ratios.
 * `--file` runs on a capture kept from an earlier run (`--keep`) instead of recording one, so two
 * versions of the code can be compared on the same packets; `--import-only` then skips the
 * command and tshark rows.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pcap from 'pcap';
import { importCaptureFile } from '../backend/src/agent/import-file.js';
import { CountingSink, timed } from './import-support.js';
import { decodeLink, type L3Position } from '../backend/src/capture/link.js';
import { readCaptureFile } from '../backend/src/capture/pcap-file.js';
import { decodeIp, IpResult, newSegment } from '../backend/src/net/ip.js';
import type { Entry, EntrySink } from '../backend/src/entries/entry.js';
import { NativeBatch } from '../backend/src/store/native.js';
import { Nginx } from '../backend/test/agent/nginx.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '200000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    'import-only': { type: 'boolean', default: false },
  },
});
const TARGET = Number(values.packets);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-'));
const file = values.file ?? join(dir, 'keepalive.pcap');
// The import command alone (bin/tapline.js would also load every other command first).
const cli = new URL('../backend/test/agent/cli.ts', import.meta.url).pathname;


/** Encodes every entry as the store's writer does (NativeBatch, a block per 50k entries), no insert. */
class EncodingSink implements EntrySink {
  count = 0;
  bytes = 0;
  private readonly batch = new NativeBatch(10_000);
  push(e: Entry): boolean {
    this.batch.append(e);
    if (++this.count % 50_000 === 0) this.take();
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  take(): void {
    this.bytes += this.batch.take().body.length;
  }
}



/** TCP destination port of the first packet with one (wrk's first SYN goes to the server). */
async function firstDstPort(path: string): Promise<number> {
  let port = 0;
  const l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
  const seg = newSegment();
  await readCaptureFile(path, (p) => {
    const end = p.offset + p.caplen;
    if (port === 0 && decodeLink(p.linkType, p.buf, p.offset, end, l3) && decodeIp(l3.etherType, p.buf, l3.offset, end, p.offset + p.wireLen, seg) === IpResult.Tcp) {
      port = seg.dstPort;
    }
  });
  return port;
}

async function capture(seconds: number, port: number): Promise<number> {
  // A big kernel buffer and a moderate load: the capture must not drop packets (it would then
  // measure gap handling, and tshark gives up on streams with holes).
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file, ['-B', '262144'], false);
  await run('wrk', ['-t1', '-c8', `-d${seconds}s`, `http://127.0.0.1:${port}/index.html`]);
  await dump.stop();
  if (dump.droppedByKernel() !== 0) console.log(`tcpdump dropped ${dump.droppedByKernel()} packets`);
  let n = 0;
  await readCaptureFile(file, () => n++);
  return n;
}

try {
  const nginx = values.file ? undefined : await Nginx.start({ 'index.html': '<html><body>' + 'keep-alive benchmark page. '.repeat(20) + '</body></html>' });
  let packets = 0;
  let seconds = 3;
  try {
    if (nginx) {
      for (let attempt = 0; attempt < 4 && packets < TARGET; attempt++) {
        packets = await capture(seconds, nginx.port);
        seconds = Math.ceil((seconds * TARGET * 1.2) / Math.max(packets, 1));
      }
      if (packets < TARGET) throw new Error(`could only capture ${packets} packets`);
    } else packets = await readCaptureFile(file, () => {});
    // The server's port, for tshark's decode-as: the destination port of the first packet.
    const port = nginx?.port ?? (await firstDstPort(file));
    console.log(`capture: ${packets} packets of wrk → nginx keep-alive on lo, ${file}`);

    const bare = await timed(
      () =>
        new Promise<number>((resolve) => {
          let n = 0;
          const s = pcap.createOfflineSession(file, { filter: '' });
          s.on('packet', () => n++);
          s.on('complete', () => resolve(n));
        }),
    );
    const reader = await timed(async () => {
      let n = 0;
      await readCaptureFile(file, () => n++);
      return n;
    });
    const sink = new CountingSink();
    const imp = await timed(() => importCaptureFile(file, sink));
    const entries = imp.value.counters.entries;
    const encoder = new EncodingSink();
    const enc = await timed(async () => {
      const r = await importCaptureFile(file, encoder);
      encoder.take();
      return r;
    });
    const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en-US');
    const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
      console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
    const answered = entries - imp.value.counters.protocols.http.unanswered;
    console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
    row('node_pcap offline loop (no-op)', bare, `${rate(bare.value, bare.cpuMs)} packets per CPU-s`);
    row("Tapline's file reader (no-op)", reader, `${rate(reader.value, reader.cpuMs)} packets per CPU-s`);
    row('import pipeline (counting sink)', imp, `${rate(packets, imp.cpuMs)} packets, ${rate(entries, imp.cpuMs)} transactions per CPU-s (${entries} entries, ${answered} answered)`);
    row('import pipeline + Native encoding', enc, `${rate(packets, enc.cpuMs)} packets, ${rate(entries, enc.cpuMs)} transactions per CPU-s (${encoder.count} entries, ${(encoder.bytes / 1e6).toFixed(0)} MB of blocks)`);
    for (const [what, t] of [['import CPU (counting sink)', imp], ['import CPU (Native encoding)', enc]] as const) {
      console.log(`${what}: ${((t.cpuMs * 1000) / packets).toFixed(2)} µs a packet, ${((t.cpuMs * 1000) / entries).toFixed(2)} µs a transaction; ` +
        `${(t.cpuMs / bare.cpuMs).toFixed(1)}x the node_pcap read loop, ${(t.cpuMs / reader.cpuMs).toFixed(1)}x Tapline's reader`);
    }
    if (!values['import-only']) {
      const cliRun = await timed(async () => {
        const child = spawn(process.execPath, ['--import', 'tsx', cli, 'import', file, '--json'], { stdio: ['ignore', 'ignore', 'ignore'] });
        const [code] = await once(child, 'exit');
        return code as number;
      });
      const tshark = await timed(async () => {
        const { stdout } = await run(
          'tshark',
          ['-r', file, '-n', '-d', `tcp.port==${port},http`, '-Y', 'http', '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.stream',
            '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code', '-e', 'http.request_in', '-e', 'http.time'],
          { maxBuffer: 1 << 30 },
        );
        return stdout.split('\n').filter((l) => /\t\d{3}\t/.test(l)).length;
      });
      row('tapline import --json >/dev/null', cliRun, `${rate(packets, cliRun.cpuMs)} packets per CPU-s (whole command: start-up, JSON; exit ${cliRun.value})`);
      row('tshark -T fields', tshark, `${rate(packets, tshark.cpuMs)} packets, ${rate(tshark.value, tshark.cpuMs)} transactions per CPU-s (${tshark.value} responses)`);
      console.log(`ratios (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x faster than tshark (the command with JSON: ${(tshark.cpuMs / cliRun.cpuMs).toFixed(1)}x); ` +
        `import costs ${(imp.cpuMs / bare.cpuMs).toFixed(1)}x the node_pcap read loop and ${(imp.cpuMs / reader.cpuMs).toFixed(1)}x Tapline's reader`);
      console.log(`ratios (wall): ${(tshark.ms / imp.ms).toFixed(1)}x tshark; ${(imp.ms / bare.ms).toFixed(1)}x the node_pcap read loop`);
      if (answered !== tshark.value) console.log(`NOTE: answered entries (${answered}) and tshark's responses (${tshark.value}) differ`);
    }
    if (values.keep) copyFileSync(file, values.keep);
  } finally {
    await nginx?.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
