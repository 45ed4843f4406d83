/**
 * `tapline up` with two protocols of the tests' own (line-protocols.ts) registered at run time:
 * a temporary embedded store, live capture on loopback (real libpcap), the hub with its hand-off
 * live stream, and real servers and clients of both protocols on 127.0.0.1 (a TCP server for
 * `tline`, a UDP server for `tquery`, on ports the system picks: detection is by content).
 *
 * In process (`startLineProtocolsUp()`), or as a program (`node --import tsx line-protocols-up.ts`)
 * that prints `hub <url>` once the traffic is in the store and runs until SIGTERM.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { LiveAgent } from '../../backend/src/agent/live-agent.js';
import { defaultLiveOptions } from '../../backend/src/capture/live.js';
import type { Entry, EntrySink } from '../../backend/src/entries/entry.js';
import { createHub, type Hub } from '../../backend/src/hub/server.js';
import { protocols } from '../../backend/src/protocols/registry.js';
import { EntryWriter } from '../../backend/src/store/index.js';
import { tlineDissector, tqueryDissector } from './line-protocols.js';
import { tempStore, type TempStore } from './temp-store.js';
import { waitFor } from './wait.js';

/** What the servers answer: tline by verb and key, tquery by name (undefined: no answer). */
const TLINE_REPLIES: Record<string, string | undefined> = {
  'GET user:1': 'RES 200 alice',
  'GET nokey': 'RES 404 no such key',
  'SET cart full': 'RES 507 disk full',
  'AUTH hunter2-secret': 'RES 200 welcome',
  'DEL forever': undefined,
};
const TQUERY_ANSWERS: Record<string, string | undefined> = {
  'a.example': '0',
  'nope.example': '3',
  'slow.example': '2 cached',
  'lost.example': undefined,
};
/** The password the tline client sends: must never reach the store. */
export const TLINE_SECRET = 'hunter2-secret';

export interface LineProtocolsUp {
  url: string;
  hub: Hub;
  temp: TempStore;
  writer: EntryWriter;
  /** Entries the agent handed to the hub, as they went into the writer. */
  captured: Entry[];
  /** Runs one round of traffic of both protocols (5 tline requests, 4 tquery queries). */
  traffic(): Promise<void>;
  /** Stops the capture (unanswered requests are emitted), flushes, and waits until the store has `n` entries. */
  settle(n: number): Promise<void>;
  stop(): Promise<void>;
}

function tlineServer(): Server {
  return createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '').replace(/^REQ /, '');
        buf = buf.slice(nl + 1);
        const reply = TLINE_REPLIES[line];
        if (reply !== undefined) sock.write(`${reply}\r\n`);
      }
    });
    sock.on('error', () => {});
  });
}

function tqueryServer(): Socket {
  const s = createSocket('udp4');
  s.on('message', (msg, from) => {
    const [, id, name] = msg.toString('latin1').split(' ');
    const answer = TQUERY_ANSWERS[name];
    if (answer !== undefined) s.send(`A ${id} ${answer}`, from.port, from.address);
  });
  return s;
}

export async function startLineProtocolsUp(): Promise<LineProtocolsUp> {
  for (const d of [tlineDissector, tqueryDissector]) if (!protocols.has(d.protocol)) protocols.register(d);
  const tcp = tlineServer();
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  const udp = tqueryServer();
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const tcpPort = (tcp.address() as AddressInfo).port;
  const udpPort = udp.address().port;

  const temp = await tempStore();
  const writer = await EntryWriter.create(temp.store, { flushIntervalMs: 50 });
  const hub = await createHub({ store: temp.store, port: 0, handOff: { unstored: () => writer.queued + writer.spoolState.entries } });
  const url = await hub.listen();
  const handOff = (hub.handOff as NonNullable<Hub['handOff']>).sinkFor(writer);
  const captured: Entry[] = [];
  const sink: EntrySink = {
    push: (e) => {
      captured.push(e);
      return handOff.push(e);
    },
    drained: () => handOff.drained(),
  };
  const agent = new LiveAgent(
    { ...defaultLiveOptions, interfaces: ['lo'], filter: `host 127.0.0.1 and (tcp port ${tcpPort} or udp port ${udpPort})` },
    sink,
    { agentName: 'line-protocols' },
  );
  agent.start();
  let stopped = false;
  async function stopCapture(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await agent.stop();
    // node_pcap closes its handle on the next packet after close(): give it one (the server ignores it).
    const poke = createSocket('udp4');
    await new Promise<void>((resolve) => poke.send('poke', udpPort, '127.0.0.1', () => resolve()));
    poke.close();
  }

  async function tlineRound(): Promise<void> {
    const sock = createConnection(tcpPort, '127.0.0.1');
    await once(sock, 'connect');
    let replies = 0;
    sock.on('data', (d) => (replies += d.toString('latin1').split('\n').length - 1));
    const lines = Object.keys(TLINE_REPLIES);
    // One request at a time, each answered (but the last) before the next.
    for (const line of lines) {
      sock.write(`REQ ${line}\r\n`);
      const want = lines.slice(0, lines.indexOf(line) + 1).filter((l) => TLINE_REPLIES[l] !== undefined).length;
      await waitFor(`the tline reply to ${line}`, () => replies >= want);
    }
    sock.end();
    await once(sock, 'close');
  }

  async function tqueryRound(): Promise<void> {
    const client = createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    let answers = 0;
    client.on('message', () => answers++);
    const names = Object.keys(TQUERY_ANSWERS);
    for (const [i, name] of names.entries()) {
      await new Promise<void>((resolve, reject) => client.send(`Q ${i + 1} ${name}`, udpPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
      const want = names.slice(0, i + 1).filter((n) => TQUERY_ANSWERS[n] !== undefined).length;
      await waitFor(`the tquery answer to ${name}`, () => answers >= want);
    }
    client.close();
  }

  return {
    url,
    hub,
    temp,
    writer,
    captured,
    async traffic() {
      const before = agent.counters().udpDatagrams;
      await tlineRound();
      await tqueryRound();
      // The unanswered query has no reply to wait for: wait until capture has seen it (every
      // query and answer) before anyone stops the capture.
      const datagrams = Object.keys(TQUERY_ANSWERS).length + Object.values(TQUERY_ANSWERS).filter((a) => a !== undefined).length;
      await waitFor(() => `every tquery datagram captured (${agent.counters().udpDatagrams - before} of ${datagrams})`, () => agent.counters().udpDatagrams - before >= datagrams);
    },
    async settle(n) {
      await stopCapture();
      await writer.flush();
      await waitFor(`${n} entries in the store`, async () => {
        const rs = await temp.store.client.query({ query: `SELECT count() AS n FROM ${temp.store.database}.entries`, format: 'JSONEachRow' });
        return Number(((await rs.json()) as Array<{ n: number | string }>)[0].n) >= n;
      });
    },
    async stop() {
      await stopCapture();
      await hub.close();
      await writer.close();
      await temp.dispose();
      tcp.close();
      udp.close();
      for (const d of [tlineDissector, tqueryDissector]) protocols.unregister(d.protocol);
    },
  };
}

// As a program: one round of traffic, then serve until SIGTERM (the plugin's drawer test).
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const up = await startLineProtocolsUp();
  await up.traffic();
  await up.settle(9);
  console.log(`hub ${up.url}`);
  process.once('SIGTERM', () => void up.stop().then(() => process.exit(0)));
}
