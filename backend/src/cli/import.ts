/**
 * `tapline import FILE`: reads a .pcap/.pcapng file through the agent's pipeline into the store
 * (or stdout with --json), with a progress bar on a terminal and the counters at the end.
 */
import { stat } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { importCaptureFile } from '../agent/import-file.js';
import { addCommonOptions, followKeyLogs, keyLogReport, pipelineOptions, sinkChoice, type CommonOptions } from '../agent/options.js';
import { formatCounters } from '../agent/report.js';
import { openSink } from '../agent/sinks.js';

interface ImportOptions extends CommonOptions {
  progress: boolean;
}

export function registerImport(program: Command): void {
  addCommonOptions(
    program
      .command('import')
      .description(COMMAND_DESCRIPTIONS.import)
      .argument('<file>', 'capture file (pcap or pcapng: Ethernet, Linux cooked v1/v2, raw IP, loopback, NFLOG, 802.11 with or without radiotap; VXLAN, Geneve, GTP-U, GRE, ERSPAN, IP-in-IP and MPLS unwrapped)'),
  )
    .option('--no-progress', 'no progress bar (it only shows on a terminal anyway)')
    .action(async (file: string, o: ImportOptions) => {
      process.exitCode = await runImport(file, o);
    });
}

async function runImport(file: string, o: ImportOptions): Promise<number> {
  const size = (await stat(file).catch(() => undefined))?.size;
  if (size === undefined) throw new Error(`cannot read ${file}: no such file`);
  followKeyLogs(o.tlsKeylog);
  const out = await openSink(sinkChoice(o));
  const showBar = o.progress && process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{bar} {percentage}% | {packets} packets | {mb} MB | {entries} entries | {eta_formatted} left',
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  if (showBar) bar.start(size, 0, { packets: 0, mb: '0.0', entries: 0 });
  const started = process.hrtime.bigint();
  let result;
  try {
    result = await importCaptureFile(file, out.sink, pipelineOptions(o), (p, c) => {
      if (showBar) bar.update(p.bytesRead, { packets: p.packets, mb: (p.bytesRead / 1e6).toFixed(1), entries: c.entries });
    });
  } finally {
    if (showBar) bar.stop();
    await out.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const c = result.counters;
  process.stderr.write(
    `tapline import: ${file}: ${c.entries} entries from ${c.packets} packets in ${seconds.toFixed(2)} s ` +
      `(${Math.round(c.packets / Math.max(seconds, 1e-6))} packets/s) into ${out.describe}\n${formatCounters(c)}\n${keyLogReport()}`,
  );
  if (result.error) {
    process.stderr.write(`tapline import: ${result.error.message}; the entries before it were imported\n`);
    return 2;
  }
  return 0;
}
