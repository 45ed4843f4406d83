/**
 * An intrusive least-recently-used list: the connection table and the UDP flow table keep their
 * entries in one, oldest first, so idle timeouts and evictions walk from the oldest and stop early.
 * The links live in the entries themselves (no node objects per packet).
 */
export interface LruLinks<T> {
  older: T | null;
  newer: T | null;
}

export class LruList<T extends LruLinks<T>> {
  oldest: T | null = null;
  newest: T | null = null;

  /** Makes `x` the newest, appending it when it is not listed yet. */
  touch(x: T): void {
    if (this.newest === x) return;
    this.remove(x);
    x.older = this.newest;
    if (this.newest) this.newest.newer = x;
    this.newest = x;
    if (!this.oldest) this.oldest = x;
  }

  /** Takes `x` out of the list (nothing when it is not in it). */
  remove(x: T): void {
    if (x.older) x.older.newer = x.newer;
    else if (this.oldest === x) this.oldest = x.newer;
    if (x.newer) x.newer.older = x.older;
    else if (this.newest === x) this.newest = x.older;
    x.older = x.newer = null;
  }
}
