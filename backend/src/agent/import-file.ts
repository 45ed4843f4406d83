/** Runs a capture file through the pipeline (what `tapline import` does, minus the terminal). */
import { CaptureError } from '../capture/errors.js';
import { linkTypeName, supportedLinkTypeNames } from '../capture/link.js';
import { readCaptureFile, type FileProgress } from '../capture/pcap-file.js';
import type { EntrySink } from '../entries/entry.js';
import { Pipeline, type PipelineCounters, type PipelineOptions } from './pipeline.js';

export interface ImportResult {
  counters: PipelineCounters;
  /** Set when the file was damaged: everything before the damage was imported. */
  error: CaptureError | undefined;
}

export async function importCaptureFile(
  path: string,
  sink: EntrySink,
  options: Partial<PipelineOptions> = {},
  progress?: (p: FileProgress, counters: PipelineCounters) => void,
): Promise<ImportResult> {
  const pipeline = new Pipeline(sink, options);
  let error: CaptureError | undefined;
  try {
    await readCaptureFile(path, pipeline.packet, {
      pause: pipeline.pause,
      progress: progress ? (p) => progress(p, pipeline.counters()) : undefined,
    });
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    // A file that is not a capture at all has nothing to finish.
    if (err.code === 'FILE_OPEN' || err.code === 'BAD_FILE_HEADER') throw err;
    error = err;
  }
  await pipeline.finish('shutdown');
  const counters = pipeline.counters();
  // A file all of whose packets are of link types not read gives nothing: say so, not "0 entries".
  if (counters.packets > 0 && counters.unknownLinkType === counters.packets) {
    const types = [...pipeline.unreadLinkTypes].map(linkTypeName).join(', ');
    throw new CaptureError('UNSUPPORTED_LINK', `${path}: its packets are of link type ${types}, which Tapline does not read (it reads ${supportedLinkTypeNames()})`);
  }
  return { counters, error };
}
