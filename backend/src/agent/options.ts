/** Command-line options shared by `tapline agent` and `tapline import`. */
import { hostname } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { defaultConnectionLimits } from '../net/connections.js';
import { defaultFlowLimits } from '../net/flows.js';
import { defaultDissectorLimits } from '../protocols/dissector.js';
import { processKeyLog } from '../protocols/tls/keylog.js';
import type { PipelineOptions } from './pipeline.js';
import type { SinkChoice } from './sinks.js';

export interface CommonOptions {
  json?: boolean;
  store: string;
  spool?: string;
  agentName: string;
  maxBody: number;
  maxHeader: number;
  redact: boolean;
  redactHeader: string[];
  redactParam: string[];
  unansweredTimeout: number;
  maxConnections: number;
  maxUdpFlows: number;
  tlsKeylog: string[];
}

export function byteCount(value: string): number {
  const m = /^(\d+)\s*([kmg]i?b?|b)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a size (like 65536, 64k or 1m)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1 << 20 : unit === 'g' ? 1 << 30 : 1);
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive whole number`);
  return n;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** `--tls-keylog FILE` (for `tapline up` too): the TLS dissector decrypts with the secrets these files hold. */
export const tlsKeyLogOption = [
  '--tls-keylog <file>',
  'decrypt TLS with the secrets of this key log (SSLKEYLOGFILE format), followed as it grows (repeatable)',
  collect,
  [] as string[],
] as const;

/** Makes the process's TLS dissector read these key logs (processKeyLog, protocols/tls/keylog.ts). */
export function followKeyLogs(files: readonly string[]): void {
  for (const f of files) processKeyLog.addFile(f);
}

/** One line a key log followed: its path and counts, never its contents ('' when none is). */
export function keyLogReport(): string {
  return processKeyLog
    .status()
    .map((k) => `  TLS key log ${k.path}: ${k.secrets} secrets, ${k.badLines} unreadable lines${k.error ? `, cannot read it: ${k.error}` : ''}\n`)
    .join('');
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'write entries to stdout, one JSON object a line, instead of the store')
    .option('--store <dir|url>', 'the store: a data directory (embedded) or a ClickHouse URL', '.tapline/data')
    .option('--spool <dir>', "directory for the store writer's spool while the store is down")
    .option('--agent-name <name>', 'name written into every entry', hostname())
    .option('--max-body <bytes>', 'keep decoded bodies up to this size', byteCount, defaultDissectorLimits.maxBodyBytes)
    .option('--max-header <bytes>', 'keep request/response heads up to this size', byteCount, defaultDissectorLimits.maxHeaderBytes)
    .option('--no-redact', 'keep credentials (Authorization, Cookie, tokens) in entries')
    .option('--redact-header <name>', 'also redact this header (repeatable)', collect, [])
    .option('--redact-param <name>', 'also redact this query parameter (repeatable)', collect, [])
    .option('--unanswered-timeout <seconds>', 'emit requests without a response after this long', positiveInt, defaultDissectorLimits.unansweredTimeoutUs / 1e6)
    .option('--max-connections <n>', 'connections tracked at once (least recently used evicted)', positiveInt, defaultConnectionLimits.maxConnections)
    .option('--max-udp-flows <n>', 'UDP flows tracked at once (least recently used evicted)', positiveInt, defaultFlowLimits.maxFlows)
    .option(...tlsKeyLogOption);
}

export function pipelineOptions(o: CommonOptions): Partial<PipelineOptions> {
  return {
    agentName: o.agentName,
    connections: { ...defaultConnectionLimits, maxConnections: o.maxConnections },
    flows: { ...defaultFlowLimits, maxFlows: o.maxUdpFlows },
    dissectors: {
      ...defaultDissectorLimits,
      maxBodyBytes: o.maxBody,
      maxHeaderBytes: o.maxHeader,
      unansweredTimeoutUs: o.unansweredTimeout * 1e6,
    },
    redaction: { enabled: o.redact, headers: o.redactHeader, queryParams: o.redactParam },
  };
}

export function sinkChoice(o: CommonOptions): SinkChoice {
  return { json: o.json === true, store: o.store, spoolDir: o.spool };
}
