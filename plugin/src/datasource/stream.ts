/**
 * The live stream: a bounded frame fed by the hub's long-poll `/api/v1/stream`, as an Observable
 * Grafana subscribes to. Unsubscribing aborts the pending poll and cancels any retry; a hub that
 * goes away is retried with exponential backoff while the panel shows the error.
 */
import { LoadingState, type DataQueryResponse } from '@grafana/data';
import { Observable, type Subscription } from 'rxjs';
import { appendEntries, streamFrame } from './frames.js';
import { toHubError, type HubClient, type HubError } from './hub.js';
import type { ProtocolRegistry } from './protocols.js';
import type { TimeField } from './types.js';

export interface LiveStreamOptions {
  refId: string;
  /** Stable per panel and query: Grafana replaces the previous packet with the same key. */
  key: string;
  filter: string;
  capacity: number;
  timeField: TimeField;
  /** The hub's protocols, for the frame's protocol badges (none: every protocol neutral). */
  protocols?: ProtocolRegistry;
  /** History to show before live rows arrive (entries in this range, newest `capacity`). */
  backfill?: { from: number; to: number };
  /** Long-poll wait; below Grafana's data proxy timeout (30 s by default). */
  waitMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/** Errors that another attempt cannot fix (a bad filter, a refused token). */
function isFatal(e: HubError): boolean {
  return e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
}

export function liveStream(hub: HubClient, o: LiveStreamOptions): Observable<DataQueryResponse> {
  const waitMs = o.waitMs ?? 25_000;
  const retryBaseMs = o.retryBaseMs ?? 1_000;
  const retryMaxMs = o.retryMaxMs ?? 30_000;

  return new Observable<DataQueryResponse>((subscriber) => {
    const frame = streamFrame(o.refId, o.capacity, o.protocols);
    let cursor: string | undefined;
    let failures = 0;
    let closed = false;
    let round: Subscription | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Ids shown by the backfill, skipped if the first live rounds repeat them.
    let backfilled = new Set<string>();

    const emit = (error?: HubError, retryMs?: number) => {
      if (!error) {
        subscriber.next({ data: [frame], key: o.key, state: LoadingState.Streaming });
        return;
      }
      const message = retryMs === undefined ? error.message : `${error.message} — reconnecting in ${Math.round(retryMs / 1000)} s`;
      subscriber.next({
        data: [frame],
        key: o.key,
        state: LoadingState.Error,
        errors: [{ message, refId: o.refId, status: error.status }],
      });
    };

    const fail = (err: unknown, retry: () => void) => {
      const e = toHubError(err);
      if (isFatal(e)) {
        emit(e);
        subscriber.complete();
        return;
      }
      failures++;
      const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** (failures - 1));
      emit(e, delay);
      timer = setTimeout(retry, delay);
    };

    const poll = () => {
      if (closed) return;
      round = hub.stream({ filter: o.filter, cursor, wait: cursor === undefined ? 0 : waitMs }).subscribe({
        next: (res) => {
          const recovered = failures > 0;
          failures = 0;
          const first = cursor === undefined;
          cursor = res.cursor;
          const fresh = backfilled.size ? res.entries.filter((e) => !backfilled.has(e.id)) : res.entries;
          if (fresh.length) appendEntries(frame, fresh, o.timeField);
          if (first) {
            // The cursor now marks "now": backfill history up to it, then follow live.
            void backfill().then(() => poll());
            return;
          }
          if (backfilled.size && res.entries.length) backfilled = new Set();
          if (fresh.length || recovered) emit();
          poll();
        },
        error: (err: unknown) => fail(err, poll),
      });
    };

    const backfill = async () => {
      if (!o.backfill) {
        emit();
        return;
      }
      try {
        const res = await hub.entries({ filter: o.filter, from: o.backfill.from, to: o.backfill.to, limit: o.capacity });
        if (closed) return;
        backfilled = new Set(res.entries.map((e) => e.id));
        appendEntries(frame, [...res.entries].reverse(), o.timeField);
        emit();
      } catch (err) {
        // History is a nicety: show why it is missing, and follow live anyway.
        if (!closed) emit(toHubError(err));
      }
    };

    poll();
    return () => {
      closed = true;
      round?.unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
    };
  });
}
