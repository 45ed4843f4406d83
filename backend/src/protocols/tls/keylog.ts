/**
 * Key log files in the NSS format (SSLKEYLOGFILE, as curl, browsers, Node's `keylog` event, Go's
 * KeyLogWriter and Envoy write them): `LABEL <client random hex> <secret hex>` a line. The TLS
 * dissector asks for a connection's secrets by its ClientHello random.
 *
 * Files are read when added and then again, from where reading stopped, whenever a connection's
 * secrets are missing (at most every REFRESH_MS), so a file that grows while capturing (a live
 * client writing its keys) is followed without a watcher holding the process open.
 *
 * The secrets are key material: they stay in this process's memory, never in entries, logs or the
 * API; `status()` gives the paths and counts only.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface TlsSecrets {
  /** TLS 1.2: CLIENT_RANDOM. */
  masterSecret?: Buffer;
  /** TLS 1.3. */
  clientHandshake?: Buffer;
  serverHandshake?: Buffer;
  clientTraffic?: Buffer;
  serverTraffic?: Buffer;
}

/** What the dissector needs of a key log. */
export interface KeySource {
  /** A connection's secrets; `force`: read what the files gained even if they were read a moment ago. */
  lookup(clientRandom: Buffer, force?: boolean): TlsSecrets | undefined;
  /** Reads what the files gained (at most every so often unless `force`): secrets looked up before fill in. */
  refresh(force?: boolean): void;
  /** Files are followed: secrets missing now may be written soon (a live client writes them as it goes). */
  readonly following: boolean;
}

export interface KeyLogStatus {
  path: string;
  /** Lines read that carried a secret Tapline uses. */
  secrets: number;
  /** Lines that were neither a secret, a comment nor a label Tapline ignores. */
  badLines: number;
  /** Why the file cannot be read now (it may not exist yet), '' when it can. */
  error: string;
}

const LABELS: Readonly<Record<string, keyof TlsSecrets>> = {
  CLIENT_RANDOM: 'masterSecret',
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshake',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshake',
  CLIENT_TRAFFIC_SECRET_0: 'clientTraffic',
  SERVER_TRAFFIC_SECRET_0: 'serverTraffic',
};
/**
 * Labels of the format Tapline has no use for: 0-RTT, exporters, RSA pre-master secrets, and the
 * secrets after a KeyUpdate that OpenSSL logs (`*_TRAFFIC_SECRET_N`: derived here from the first).
 */
const IGNORED = new Set(['CLIENT_EARLY_TRAFFIC_SECRET', 'EARLY_EXPORTER_SECRET', 'EXPORTER_SECRET', 'RSA', 'CLIENT_TRAFFIC_SECRET_N', 'SERVER_TRAFFIC_SECRET_N']);
const HEX = /^[0-9a-fA-F]+$/;

/** Client randoms remembered; beyond, the oldest are forgotten (a key log of a long-running client grows without end). */
const MAX_CONNECTIONS = 200_000;
/** A line longer than this is garbage (the longest real one is ~225 bytes). */
const MAX_LINE = 1024;
const REFRESH_MS = 100;
const READ_CHUNK = 1 << 20;

interface KeyLogFile {
  status: KeyLogStatus;
  offset: number;
  /** The end of the file read so far when it had no newline yet (a line being written). */
  partial: string;
}

export class KeyLog implements KeySource {
  private readonly secrets = new Map<string, TlsSecrets>();
  private readonly files: KeyLogFile[] = [];
  private lastRefreshMs = 0;

  /** Follows `path` from now on (read at once if it exists; it may appear later). */
  addFile(path: string): void {
    if (this.files.some((f) => f.status.path === path)) return;
    const f: KeyLogFile = { status: { path, secrets: 0, badLines: 0, error: '' }, offset: 0, partial: '' };
    this.files.push(f);
    this.read(f);
  }

  /** Key log lines given directly (tests, or a key log handed over by other means). */
  addText(text: string): KeyLogStatus {
    const status: KeyLogStatus = { path: '', secrets: 0, badLines: 0, error: '' };
    for (const line of text.split('\n')) this.line(line, status);
    return status;
  }

  status(): KeyLogStatus[] {
    return this.files.map((f) => ({ ...f.status }));
  }

  get following(): boolean {
    return this.files.length > 0;
  }

  lookup(clientRandom: Buffer, force = false): TlsSecrets | undefined {
    const key = clientRandom.toString('hex');
    const found = this.secrets.get(key);
    if (found) return found;
    this.refresh(force);
    return this.secrets.get(key);
  }

  refresh(force = false): void {
    if (this.files.length === 0) return;
    const now = Date.now();
    if (!force && now - this.lastRefreshMs < REFRESH_MS) return;
    this.lastRefreshMs = now;
    for (const f of this.files) this.read(f);
  }

  private read(f: KeyLogFile): void {
    let fd: number;
    try {
      const size = statSync(f.status.path).size;
      // A file cut short (rotated, truncated) is read again from its start.
      if (size < f.offset) {
        f.offset = 0;
        f.partial = '';
      }
      if (size === f.offset) {
        f.status.error = '';
        return;
      }
      fd = openSync(f.status.path, 'r');
    } catch (err) {
      f.status.error = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      return;
    }
    f.status.error = '';
    try {
      const chunk = Buffer.alloc(READ_CHUNK);
      for (;;) {
        const n = readSync(fd, chunk, 0, READ_CHUNK, f.offset);
        if (n === 0) break;
        f.offset += n;
        const lines = (f.partial + chunk.toString('latin1', 0, n)).split('\n');
        f.partial = lines.pop()!;
        if (f.partial.length > MAX_LINE) {
          f.status.badLines++;
          f.partial = '';
        }
        for (const line of lines) this.line(line, f.status);
      }
    } finally {
      closeSync(fd);
    }
  }

  private line(raw: string, status: KeyLogStatus): void {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    const field = LABELS[parts[0]];
    if (!field) {
      if (!IGNORED.has(parts[0])) status.badLines++;
      return;
    }
    const [, random, secret] = parts;
    if (parts.length !== 3 || random.length !== 64 || !HEX.test(random) || !HEX.test(secret) || (secret.length !== 64 && secret.length !== 96)) {
      status.badLines++;
      return;
    }
    const key = random.toLowerCase();
    let s = this.secrets.get(key);
    if (!s) {
      if (this.secrets.size >= MAX_CONNECTIONS) this.secrets.delete(this.secrets.keys().next().value as string);
      s = {};
      this.secrets.set(key, s);
    }
    s[field] = Buffer.from(secret, 'hex');
    status.secrets++;
  }
}

/** The key logs of this process (`--tls-keylog FILE`), which the built-in TLS dissector reads. */
export const processKeyLog = new KeyLog();
