/** The counters the CLI prints on exit, one `name value` per line, in a fixed order. */
import type { InterfaceStats } from '../capture/live.js';
import type { PipelineCounters } from './pipeline.js';

export function formatCounters(c: PipelineCounters, capture: InterfaceStats[] = []): string {
  const rows: Array<[string, number | string]> = [
    ['packets', c.packets],
    ['bytes', c.bytes],
    ['connections', c.connections],
    ['UDP flows', c.flows],
    ['entries', c.entries],
  ];
  for (const s of capture) {
    rows.push([`${s.interface} received (libpcap)`, s.received], [`${s.interface} dropped (libpcap)`, s.dropped + s.ifDropped]);
  }
  let parseErrors = 0;
  for (const [name, p] of Object.entries(c.protocols)) {
    parseErrors += p.parseErrors;
    rows.push(
      [`${name} exchanges`, p.exchanges],
      [`${name} unanswered`, p.unanswered],
      [`${name} orphan responses`, p.orphanResponses],
      [`${name} parse errors`, p.parseErrors],
    );
  }
  rows.push(
    ['parse errors', parseErrors],
    ['entries dropped (sink full)', c.sinkDrops],
    ['not IP', c.nonIp],
    ['link type not read', c.unknownLinkType],
    ['unwrapped from tunnels', c.tunneled],
    ['not TCP or UDP', c.nonTcpUdp],
    ['IP fragments', c.fragments],
    ['malformed', c.malformed],
    ['stray segments', c.strays],
    ['mid-stream connections', c.midStream],
    ['unknown-protocol connections', c.unknownConnections],
    ['unknown-protocol UDP flows', c.unknownFlows],
    ['out-of-order segments', c.outOfOrder],
    ['duplicate bytes', c.duplicateBytes],
    ['gaps', c.gaps],
    ['gap bytes', c.gapBytes],
    ['forced flushes', c.forcedFlushes],
    ['connections evicted', c.evicted],
    ['connections timed out', c.timedOut],
    ['peak buffered bytes', c.peakBufferedBytes],
    ['UDP datagrams', c.udpDatagrams],
    ['UDP payload bytes', c.udpBytes],
    ['UDP flows evicted', c.flowsEvicted],
    ['UDP flows timed out', c.flowsTimedOut],
  );
  const width = Math.max(...rows.map(([n]) => n.length));
  return rows.map(([n, v]) => `  ${n.padEnd(width)}  ${v}`).join('\n');
}
