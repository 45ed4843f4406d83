/**
 * Test support: capture real traffic with tcpdump, import it, and compare the entries with
 * tshark's HTTP transactions. Any difference fails, naming tshark's frame numbers.
 */
import assert from 'node:assert/strict';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import type { Entry } from '../../src/entries/entry.js';
import { tempFile } from './run.js';
import { Tcpdump, tsharkTransactions, type TsharkTransaction } from './traffic.js';

export interface Captured {
  file: string;
  entries: Entry[];
  tshark: TsharkTransaction[];
}

/** Runs `traffic` while tcpdump captures `ports` on `iface`, then imports and asks tshark. */
export async function captureTraffic(name: string, ports: number[], traffic: () => Promise<void>, iface = 'lo', extra: string[] = []): Promise<Captured> {
  const file = tempFile(`${name}.pcap`);
  const filter = ports.map((p) => `tcp port ${p}`).join(' or ');
  const dump = await Tcpdump.start(iface, filter, file, extra);
  try {
    await traffic();
  } finally {
    await dump.stop();
  }
  // A capture with holes would test gap handling, not the comparison this is for.
  assert.equal(dump.droppedByKernel(), 0, `tcpdump dropped packets: ${dump.stderr()}`);
  return analyse(file, ports);
}

export async function analyse(file: string, ports: number[]): Promise<Captured> {
  const sink = new CollectingSink();
  const { error } = await importCaptureFile(file, sink, { redaction: { enabled: false, headers: [], queryParams: [] } });
  assert.equal(error, undefined);
  return { file, entries: sink.entries, tshark: await tsharkTransactions(file, ports) };
}

function uri(e: Entry): string {
  return e.query === '' && !e.target.endsWith('?') ? e.target : `${e.target}?${e.query}`;
}

/**
 * Entries and tshark's transactions must agree one to one: per client port, in order, the same
 * method, URI and status (0 when unanswered).
 */
export function assertSameAsTshark(c: Captured, expectedCount?: number): void {
  const ours = new Map<number, Entry[]>();
  for (const e of [...c.entries].sort((a, b) => a.startUs - b.startUs)) {
    ours.set(e.src.port, [...(ours.get(e.src.port) ?? []), e]);
  }
  const theirs = new Map<number, TsharkTransaction[]>();
  for (const t of c.tshark) theirs.set(t.clientPort, [...(theirs.get(t.clientPort) ?? []), t]);
  const problems: string[] = [];
  for (const port of new Set([...ours.keys(), ...theirs.keys()])) {
    const a = ours.get(port) ?? [];
    const b = theirs.get(port) ?? [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const e = a[i];
      const t = b[i];
      if (!t) {
        problems.push(`client port ${port}: entry ${e.operation} ${uri(e)} ${e.status} has no tshark transaction`);
      } else if (!e) {
        problems.push(`client port ${port}: tshark frame ${Math.floor(t.requestFrame)} (${t.method} ${t.uri} → ${t.status}, response frame ${t.responseFrame}) has no entry`);
      } else if (e.operation !== t.method || uri(e) !== t.uri || e.status !== t.status) {
        problems.push(
          `client port ${port}: tshark frames ${Math.floor(t.requestFrame)}/${t.responseFrame} say ${t.method} ${t.uri} → ${t.status}, entry says ${e.operation} ${uri(e)} → ${e.status}`,
        );
      }
    }
  }
  assert.deepEqual(problems, [], `${c.file}: entries differ from tshark:\n${problems.join('\n')}`);
  if (expectedCount !== undefined) assert.equal(c.entries.length, expectedCount, 'entries');
}
