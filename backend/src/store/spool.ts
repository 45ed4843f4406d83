/**
 * A bounded on-disk queue of insert batches, for while the store is unreachable. One file per
 * batch, named `<seq>-<rows>-<token>.native` (the Native block exactly as it would be inserted,
 * plus what replaying needs: order, row count, dedup token). Files survive a restart and are replayed then.
 * When a new batch does not fit, the oldest batches are deleted and counted. Not safe for
 * concurrent use: the writer calls it from its one delivery loop. A batch spooled by another
 * version may hold other columns: the writer replays it through spool-blocks.ts, which maps the
 * columns of earlier versions and refuses what it cannot map (set aside as `*.rejected`).
 */
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export interface SpoolFile {
  name: string;
  seq: number;
  rows: number;
  token: string;
  bytes: number;
}

const NAME = /^(\d{12})-(\d+)-([A-Za-z0-9_-]+)\.native$/;
/** Batches spooled as TabSeparated by versions before the Native format; not replayed. */
const OLD_NAME = /^\d{12}-\d+-[A-Za-z0-9_-]+\.tsv$/;

export class Spool {
  private readonly files: SpoolFile[] = [];
  private totalBytes = 0;
  private nextSeq = 0;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly logger: Logger | undefined,
  ) {}

  /** Opens (creating) the directory and picks up batches left by an earlier run. */
  static async open(dir: string, maxBytes: number, logger?: Logger): Promise<Spool> {
    const spool = new Spool(dir, maxBytes, logger);
    await mkdir(dir, { recursive: true });
    const old: string[] = [];
    for (const name of (await readdir(dir)).sort()) {
      if (OLD_NAME.test(name)) old.push(name);
      const m = NAME.exec(name);
      if (!m) continue;
      const { size } = await stat(join(dir, name));
      spool.files.push({ name, seq: Number(m[1]), rows: Number(m[2]), token: m[3], bytes: size });
      spool.totalBytes += size;
      spool.nextSeq = Number(m[1]) + 1;
    }
    if (old.length > 0) {
      logger?.warn({ dir, files: old.length },
        `spool: ${old.length} batch files (*.tsv) from an older version are not replayed (this version spools Native blocks); left in place`);
    }
    if (spool.files.length > 0) {
      logger?.info({ dir, batches: spool.files.length, entries: spool.rows }, 'spool holds entries from an earlier run; replaying them when the store is reachable');
    }
    return spool;
  }

  get empty(): boolean {
    return this.files.length === 0;
  }
  get bytes(): number {
    return this.totalBytes;
  }
  get batches(): number {
    return this.files.length;
  }
  get rows(): number {
    return this.files.reduce((n, f) => n + f.rows, 0);
  }

  /**
   * Appends a batch, first deleting the oldest batches while it would not fit.
   * Returns the number of entries dropped to make room (or the batch's own rows if it alone is too big).
   */
  async append(body: Buffer, rows: number, token: string): Promise<number> {
    if (body.length > this.maxBytes) {
      this.logger?.error({ dir: this.dir, bytes: body.length, limit: this.maxBytes, entries: rows },
        `spool: a batch of ${body.length} bytes is larger than the whole spool (${this.maxBytes} bytes): dropped its ${rows} entries`);
      return rows;
    }
    let dropped = 0;
    while (this.totalBytes + body.length > this.maxBytes && this.files.length > 0) {
      const old = this.files[0];
      await this.remove(old);
      dropped += old.rows;
    }
    if (dropped > 0) {
      this.logger?.warn({ dir: this.dir, limit: this.maxBytes, dropped },
        `spool full (limit ${this.maxBytes} bytes): dropped the oldest ${dropped} spooled entries to make room`);
    }
    const name = `${String(this.nextSeq).padStart(12, '0')}-${rows}-${token}.native`;
    const file: SpoolFile = { name, seq: this.nextSeq++, rows, token, bytes: body.length };
    // Write then rename, so a crash never leaves a half batch under a valid name.
    await writeFile(join(this.dir, `${name}.tmp`), body);
    await rename(join(this.dir, `${name}.tmp`), join(this.dir, name));
    this.files.push(file);
    this.totalBytes += body.length;
    return dropped;
  }

  oldest(): SpoolFile | undefined {
    return this.files[0];
  }

  read(file: SpoolFile): Promise<Buffer> {
    return readFile(join(this.dir, file.name));
  }

  async remove(file: SpoolFile): Promise<void> {
    await unlink(join(this.dir, file.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.forget(file);
  }

  /** Moves a batch the store keeps refusing aside (`*.rejected`), kept for inspection. */
  async quarantine(file: SpoolFile): Promise<void> {
    await rename(join(this.dir, file.name), join(this.dir, `${file.name}.rejected`));
    this.forget(file);
  }

  private forget(file: SpoolFile): void {
    const i = this.files.indexOf(file);
    if (i >= 0) {
      this.files.splice(i, 1);
      this.totalBytes -= file.bytes;
    }
  }
}
