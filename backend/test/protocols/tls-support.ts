/**
 * Test and bench support for TLS: self-signed certificates made by `openssl` (an expired one with
 * `openssl ca`), `openssl s_server` serving TLS on 127.0.0.1 (nginx: agent/nginx.ts), and tshark's reading of a
 * capture, with or without a key log (the reference the entries are compared with).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../agent/traffic.js';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

export interface Certificate {
  cert: string;
  key: string;
}

/** A self-signed RSA certificate for `name` (SAN: the name and 127.0.0.1), valid `days` from now. */
export async function selfSigned(dir: string, name: string, days = 30): Promise<Certificate> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', String(days),
    '-subj', `/CN=${name}/O=Tapline tests`, '-addext', `subjectAltName=DNS:${name},IP:127.0.0.1`,
  ]);
  return { cert, key };
}

/** A self-signed certificate whose validity ended in 2020 (`openssl ca -selfsign` takes explicit dates). */
export async function expiredSelfSigned(dir: string, name: string): Promise<Certificate> {
  const ca = join(dir, `${name}-ca`);
  mkdirSync(ca, { recursive: true });
  writeFileSync(join(ca, 'index.txt'), '');
  writeFileSync(join(ca, 'serial'), '01\n');
  const conf = join(ca, 'ca.cnf');
  writeFileSync(conf, `[ca]\ndefault_ca = d\n[d]\ndir = ${ca}\ndatabase = ${ca}/index.txt\nserial = ${ca}/serial\nnew_certs_dir = ${ca}\n` +
    `default_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n`);
  const key = join(dir, `${name}.key`);
  const csr = join(ca, 'req.csr');
  const cert = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
  await run('openssl', ['ca', '-batch', '-config', conf, '-selfsign', '-keyfile', key, '-in', csr, '-out', cert, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-notext']);
  return { cert, key };
}

/** `openssl s_server -www` on 127.0.0.1 with `cert` and `args`; resolves once it accepts. */
export class OpensslServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(cert: Certificate, args: string[] = []): Promise<OpensslServer> {
    const port = await freePort();
    const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', cert.cert, '-key', cert.key, '-www', '-quiet', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const s = new OpensslServer(child, port);
    await waitFor(() => `openssl s_server to accept: ${err}`, async () => {
      if (child.exitCode !== null) throw new Error(`openssl s_server exited: ${err}`);
      return run('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}/`]).then(() => true, () => false);
    });
    return s;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** `openssl s_client` to 127.0.0.1:port with `args`, stdin closed; its output and exit code (failures are expected). */
export async function sClient(port: number, args: string[]): Promise<{ code: number; out: string }> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  child.stdin!.end();
  const [code] = (await once(child, 'exit')) as [number];
  return { code, out };
}

/** One connection's handshake as tshark reads it. */
export interface TsharkHandshake {
  clientPort: number;
  sni: string;
  /** The chosen suite's code, 0 when no ServerHello. */
  cipher: number;
  /** The chosen version (supported_versions or the ServerHello's), 0 when none. */
  version: number;
  serverHellos: number;
  /** `client 48` / `server 40`, '' when no alert. */
  alert: string;
  /** The ClientHello's frame time and the server's Finished (decrypted with a key log: handshake type 20). */
  helloUs: number;
  finishedUs: number;
  /** The frame time of that alert, 0 when none. */
  alertUs: number;
  /** Finished messages seen (decrypted), both sides. */
  finishes: number;
}

const tlsArgs = (file: string, port: number, keylog?: string) => [
  '-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},tls`, ...(keylog ? ['-o', `tls.keylog_file:${keylog}`] : []),
];

/** Every connection to `port` in `file` as tshark reads its TLS handshake, by client port. */
export async function tsharkHandshakes(file: string, port: number, keylog?: string): Promise<Map<number, TsharkHandshake>> {
  const args = [
    ...tlsArgs(file, port, keylog), '-Y', `tcp.port == ${port} && (tls.handshake.type || tls.alert_message)`,
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|',
    '-e', 'frame.time_epoch', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tls.handshake.type', '-e', 'tls.handshake.extensions_server_name',
    '-e', 'tls.handshake.ciphersuite', '-e', 'tls.handshake.version', '-e', 'tls.handshake.extensions.supported_version', '-e', 'tls.alert_message.desc',
  ];
  const { stdout } = await run('tshark', args, { maxBuffer: 256 << 20 });
  const out = new Map<number, TsharkHandshake>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [time, sport, dport, types, sni, suites, versions, supported, alerts] = line.split('\t');
    const fromServer = Number(sport) === port;
    const clientPort = Number(fromServer ? dport : sport);
    let h = out.get(clientPort);
    if (!h) {
      h = { clientPort, sni: '', cipher: 0, version: 0, serverHellos: 0, alert: '', helloUs: 0, finishedUs: 0, alertUs: 0, finishes: 0 };
      out.set(clientPort, h);
    }
    const us = Math.round(Number(time) * 1e6);
    const typeList = types ? types.split('|').map(Number) : [];
    if (typeList.includes(1) && h.helloUs === 0) {
      h.helloUs = us;
      h.sni = sni ?? '';
    }
    if (typeList.includes(2)) {
      h.serverHellos++;
      h.cipher = Number(suites);
      h.version = Number(supported || versions.split('|')[0]);
    }
    // An alert ends the handshake until both sides' Finished are seen (after them: close_notify…).
    if (alerts && h.alert === '' && h.finishes < 2) {
      h.alert = `${fromServer ? 'server' : 'client'} ${alerts.split('|')[0]}`;
      h.alertUs = us;
    }
    if (typeList.includes(20)) h.finishes++;
    if (fromServer && typeList.includes(20) && h.finishedUs === 0) h.finishedUs = us;
  }
  return out;
}

/** One HTTP request over TLS as tshark decrypts it: `clientPort method uri → status`, in order per connection. */
export async function tsharkHttpsRequests(file: string, port: number, keylog: string): Promise<string[]> {
  const args = [
    ...tlsArgs(file, port, keylog), '-Y', `tcp.port == ${port} && (http.request || http.response)`,
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code',
  ];
  const { stdout } = await run('tshark', args, { maxBuffer: 256 << 20 });
  const waiting = new Map<number, string[]>();
  const done: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [sport, dport, methods, uris, codes] = line.split('\t');
    if (methods) {
      const us = uris.split('|');
      const list = waiting.get(Number(sport)) ?? [];
      methods.split('|').forEach((m, i) => list.push(`${sport} ${m} ${us[i]}`));
      waiting.set(Number(sport), list);
    }
    if (codes) {
      // HTTP/1.1 answers in order on each connection.
      for (const code of codes.split('|')) {
        const req = waiting.get(Number(dport))?.shift();
        if (req !== undefined) done.push(`${req} → ${code}`);
      }
    }
  }
  for (const rest of waiting.values()) for (const r of rest) done.push(`${r} → 0`);
  return done;
}

/**
 * `openssl s_client` driven step by step: each step is written to its stdin once the previous one's
 * `until` appears in its output (an HTTP answer, the KEYUPDATE it prints for the `k` command).
 * Without -quiet, so that its command letters work.
 */
export async function sClientSteps(port: number, args: string[], steps: Array<{ write: string; until: RegExp }>): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await waitFor(() => `s_client to connect: ${out}`, () => /Verify return code/.test(out) || child.exitCode !== null);
  for (const step of steps) {
    const seen = out.length;
    child.stdin!.write(step.write);
    await waitFor(() => `s_client to show ${step.until}: ${out}`, () => step.until.test(out.slice(seen)) || child.exitCode !== null);
  }
  const exited = once(child, 'exit');
  child.stdin!.end();
  await exited;
  return out;
}
