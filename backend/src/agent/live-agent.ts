/**
 * Live capture through the pipeline: libpcap on the given interfaces, a 1 s clock for idle
 * connections and unanswered requests, and an orderly stop (capture off, connections ended,
 * pending requests emitted as unanswered, everything handed to the sink).
 */
import { LiveCapture, type InterfaceStats, type LiveOptions } from '../capture/live.js';
import type { EntrySink } from '../entries/entry.js';
import { Pipeline, type PipelineCounters, type PipelineOptions } from './pipeline.js';

export class LiveAgent {
  private readonly capture: LiveCapture;
  private readonly pipeline: Pipeline;
  private clock: NodeJS.Timeout | undefined;

  constructor(live: LiveOptions, sink: EntrySink, options: Partial<PipelineOptions> = {}) {
    this.capture = new LiveCapture(live);
    this.pipeline = new Pipeline(sink, options);
  }

  /** Opens the interfaces; packets flow once this returns. Throws a CaptureError when one cannot be opened. */
  start(): void {
    this.capture.start(this.pipeline.packet);
    this.clock = setInterval(() => this.pipeline.tick(Date.now() * 1000), 1000);
  }

  counters(): PipelineCounters {
    return this.pipeline.counters();
  }

  captureStats(): InterfaceStats[] {
    return this.capture.stats();
  }

  /** Stops capturing and hands every remaining entry to the sink. */
  async stop(): Promise<void> {
    clearInterval(this.clock);
    this.capture.stop();
    await this.pipeline.finish('shutdown');
  }
}
