/**
 * Live capture through the pipeline: libpcap on the given interfaces, a 1 s clock for idle
 * connections and unanswered requests, and an orderly stop (capture off, connections ended,
 * pending requests emitted as unanswered, everything handed to the sink).
 */
import { LiveCapture, type InterfaceStats, type LiveOptions } from '../capture/live.js';
import type { EntrySink } from '../entries/entry.js';
import { Pipeline, type PipelineCounters, type PipelineOptions } from './pipeline.js';

export class LiveAgent {
  private capture: LiveCapture;
  private readonly pipeline: Pipeline;
  private clock: NodeJS.Timeout | undefined;
  /** libpcap counters of captures replaced by retarget(), so totals survive a change. */
  private retired: InterfaceStats[] = [];

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
    const byName = new Map<string, InterfaceStats>();
    for (const s of [...this.retired, ...this.capture.stats()]) {
      const t = byName.get(s.interface);
      if (t) {
        t.received += s.received;
        t.dropped += s.dropped;
        t.ifDropped += s.ifDropped;
      } else byName.set(s.interface, { ...s });
    }
    return [...byName.values()];
  }

  /**
   * Captures on other interfaces or with another filter from now on (tap targets changed).
   * Connections carry on in the same pipeline. Throws a CaptureError when an interface cannot be opened.
   */
  retarget(live: LiveOptions): void {
    this.capture.stop();
    this.retired.push(...this.capture.stats());
    this.capture = new LiveCapture(live);
    this.capture.start(this.pipeline.packet);
  }

  /** Stops capturing and hands every remaining entry to the sink. */
  async stop(): Promise<void> {
    clearInterval(this.clock);
    this.capture.stop();
    await this.pipeline.finish('shutdown');
  }
}
