/** Test support: hand-built frames → a capture file → `importCaptureFile` → entries. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { importCaptureFile, type ImportResult } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import type { PipelineOptions } from '../../src/agent/pipeline.js';
import type { Entry, HeaderList } from '../../src/entries/entry.js';
import { pcapFile, type Frame } from '../capture/frames.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-agent-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

export function tempFile(name: string): string {
  return join(dir, `${n++}-${name}`);
}

export async function importFrames(
  frames: Frame[],
  options: Partial<PipelineOptions> = {},
  linkType = LINKTYPE_ETHERNET,
): Promise<{ entries: Entry[]; result: ImportResult }> {
  const f = tempFile('frames.pcap');
  writeFileSync(f, pcapFile(linkType, frames));
  const sink = new CollectingSink();
  const result = await importCaptureFile(f, sink, options);
  return { entries: sink.entries, result };
}

export function text(b: { bytes: Buffer }): string {
  return b.bytes.toString('latin1');
}

/** Header value by name (any case). */
export function hdr(list: HeaderList, name: string): string | undefined {
  return list.toPairs().find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}
