/**
 * Live capture with node_pcap (libpcap) on one or more interfaces. Frames are handed over from
 * node_pcap's shared buffer without copying; consumers copy what they keep.
 *
 * node_pcap's close() only stops reading: the handle closes on the next packet, so an idle closed
 * session keeps the process alive. Callers end the process themselves after stop() (the CLI does).
 */
import pcap from 'pcap';
import { CaptureError } from './errors.js';
import { isSupportedLinkType, linkTypeFromPcapName } from './link.js';
import { newRawPacket, type PacketHandler } from './packet.js';

export interface LiveOptions {
  interfaces: string[];
  /** BPF filter expression (pcap-filter(7)); '' for everything. */
  filter: string;
  /** Kernel ring buffer per interface, bytes. */
  bufferSize: number;
  snapLength: number;
  /** Milliseconds libpcap may batch packets before waking us (NOTES.md: 10 ms keeps up with load). */
  bufferTimeoutMs: number;
  promiscuous: boolean;
}

export const defaultLiveOptions: Omit<LiveOptions, 'interfaces'> = {
  filter: 'tcp or udp',
  bufferSize: 64 << 20,
  snapLength: 262144,
  bufferTimeoutMs: 10,
  // As tcpdump does. Needed on a bridge: frames switched between its ports only reach the
  // bridge's own interface in promiscuous mode.
  promiscuous: true,
};

export interface InterfaceStats {
  interface: string;
  /** libpcap's received counter (on `lo` every packet counts twice: see NOTES.md). */
  received: number;
  /** Dropped because the ring buffer was full. */
  dropped: number;
  /** Dropped by the interface or driver. */
  ifDropped: number;
}

export class LiveCapture {
  private readonly sessions: Array<{ name: string; session: pcap.PcapSession }> = [];
  private stopped = false;
  private finalStats: InterfaceStats[] = [];

  constructor(private readonly opts: LiveOptions) {}

  /** Opens every interface; throws a CaptureError naming the interface when libpcap refuses. */
  start(onPacket: PacketHandler): void {
    for (const name of this.opts.interfaces) {
      let session: pcap.PcapSession;
      try {
        session = pcap.createSession(name, {
          filter: this.opts.filter,
          buffer_size: this.opts.bufferSize,
          snap_length: this.opts.snapLength,
          buffer_timeout: this.opts.bufferTimeoutMs,
          promiscuous: this.opts.promiscuous,
        });
      } catch (err) {
        this.stop();
        throw new CaptureError('LIVE_OPEN', `cannot capture on ${name}: ${(err as Error).message}`);
      }
      const linkType = linkTypeFromPcapName(session.link_type);
      if (!isSupportedLinkType(linkType)) {
        session.close();
        this.stop();
        throw new CaptureError('UNSUPPORTED_LINK', `cannot decode link type ${session.link_type} of ${name}`);
      }
      const pkt = newRawPacket();
      pkt.linkType = linkType;
      session.on('packet', (raw: pcap.PacketWithHeader) => {
        const h = raw.header;
        pkt.buf = raw.buf;
        pkt.offset = 0;
        pkt.tsUs = h.readUInt32LE(0) * 1e6 + h.readUInt32LE(4);
        pkt.caplen = Math.min(h.readUInt32LE(8), raw.buf.length);
        pkt.wireLen = h.readUInt32LE(12);
        onPacket(pkt);
      });
      this.sessions.push({ name, session });
    }
  }

  /** libpcap's counters per interface (the last ones read before stop() once stopped). */
  stats(): InterfaceStats[] {
    if (this.stopped) return this.finalStats;
    return this.sessions.map(({ name, session }) => {
      const s = session.stats();
      return { interface: name, received: s.ps_recv, dropped: s.ps_drop, ifDropped: s.ps_ifdrop };
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.finalStats = this.stats();
    this.stopped = true;
    for (const { session } of this.sessions) session.close();
  }
}
