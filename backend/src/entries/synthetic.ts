/**
 * Realistic synthetic entries for tests, benchmarks and `tapline seed`: a small cluster (several
 * namespaces, services, pods on two nodes, kubelet probes, an outside client), a status mix with
 * 404s and 5xx bursts, lognormal latencies per service, small JSON/HTML bodies and usual headers.
 * With `protocols` including 'dns', a share of the entries are the pods' DNS lookups to kube-dns
 * (protocols/dns/synthetic.ts). A seeded PRNG makes every run with the same options produce the
 * same entries.
 */
import { entryOf, type Exchange } from '../protocols/dissector.js';
import { dnsDissector } from '../protocols/dns/dissector.js';
import { lookupSteps, syntheticLookup, type LookupName } from '../protocols/dns/synthetic.js';
import { httpOutcome } from '../protocols/http/dissector.js';
import { NO_FIELDS, type Body, type Endpoint, type Entry } from './entry.js';
import { HeaderList } from './headers.js';

export interface SyntheticOptions {
  /** Number of entries to produce. */
  count: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Start time of the first entry (µs since the epoch); default: now minus `spanUs`. */
  startUs?: number;
  /** Entries are spread evenly (with jitter) over this span (µs); default one hour. */
  spanUs?: number;
  /** Agent name written into each entry (default 'synthetic'). */
  agent?: string;
  /** The protocols to make entries of (default HTTP only). */
  protocols?: readonly SyntheticProtocol[];
}

export const SYNTHETIC_PROTOCOLS = ['http', 'dns'] as const;
export type SyntheticProtocol = (typeof SYNTHETIC_PROTOCOLS)[number];
/** With DNS on, the share of entries that are lookups. */
const DNS_SHARE = 0.3;

/** sfc32: small, fast, good enough for test data; deterministic from the seed. */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

interface Workload {
  namespace: string;
  service: string;
  workload: string;
  pods: Array<{ name: string; ip: string; node: string }>;
  serviceIp: string;
  port: number;
  /** Median latency (µs) and the lognormal sigma. */
  medianUs: number;
  sigma: number;
  routes: Array<{ method: string; path: string; query?: string; html?: boolean; weight: number }>;
}

const NODES = ['kind-worker', 'kind-worker2'];
const NODE_IPS = ['172.18.0.3', '172.18.0.4'];

function workload(
  namespace: string, service: string, hash: string, podCount: number, subnet: number, serviceIp: string,
  port: number, medianUs: number, routes: Workload['routes'],
): Workload {
  const pods = Array.from({ length: podCount }, (_, i) => ({
    name: `${service}-${hash}-${'abcdefghij'.slice(i, i + 1)}${'xyzqw'.slice(i % 5, (i % 5) + 1)}${i}k`,
    ip: `10.244.${(subnet + i) % 2 + 1}.${subnet * 4 + i + 2}`,
    node: NODES[(subnet + i) % 2],
  }));
  return { namespace, service, workload: service, pods, serviceIp, port, medianUs, sigma: 0.6, routes };
}

/** The synthetic cluster: who exists and who calls whom. Exported so tests can name things. */
export const SYNTHETIC_TOPOLOGY = (() => {
  const nginx = workload('default', 'nginx', '7c5ddbdf54', 2, 1, '10.96.12.3', 80, 900, [
    { method: 'GET', path: '/index.html', html: true, weight: 6 },
    { method: 'GET', path: '/50x.html', html: true, weight: 2 },
    { method: 'GET', path: '/error.html', html: true, weight: 1 },
  ]);
  const frontend = workload('shop', 'frontend', '6f8b9c7d4', 3, 3, '10.96.40.10', 8080, 12_000, [
    { method: 'GET', path: '/', html: true, weight: 5 },
    { method: 'GET', path: '/product/42', html: true, weight: 3 },
    { method: 'POST', path: '/cart/add', weight: 2 },
  ]);
  const cart = workload('shop', 'cart', '5d7f6b8c9', 2, 6, '10.96.40.20', 7070, 4_000, [
    { method: 'GET', path: '/api/cart', query: 'user=1234', weight: 4 },
    { method: 'POST', path: '/api/cart/items', weight: 2 },
    { method: 'DELETE', path: '/api/cart/items/7', weight: 1 },
  ]);
  const catalog = workload('shop', 'catalog', '84c6d5f7b', 2, 8, '10.96.40.30', 3550, 6_000, [
    { method: 'GET', path: '/api/products', query: 'page=1&size=20', weight: 5 },
    { method: 'GET', path: '/api/products/42', weight: 3 },
  ]);
  const payments = workload('payments', 'payments-api', '9b4c7d6e5', 2, 10, '10.96.50.10', 8443, 25_000, [
    { method: 'POST', path: '/v1/charges', weight: 3 },
    { method: 'GET', path: '/v1/charges/ch_1', weight: 1 },
  ]);
  const prometheus = workload('monitoring', 'prometheus', '0', 1, 12, '10.96.60.10', 9090, 2_000, []);
  const testPod = { namespace: 'default', service: '', workload: 'test-pod', pods: [{ name: 'test-pod', ip: '10.244.1.7', node: 'kind-worker' }] };
  const services = [nginx, frontend, cart, catalog, payments];
  const kubeDns = workload('kube-system', 'kube-dns', '5d78c9869d', 2, 14, '10.96.0.10', 53, 250, []);
  kubeDns.workload = 'coredns';
  for (const p of kubeDns.pods) p.name = p.name.replace('kube-dns', 'coredns');
  /** Who looks up what: the services each calls, an outside API, and a typo now and then. */
  const lookups: Array<[Workload | typeof testPod, LookupName, number]> = [
    [frontend, { name: 'cart.shop', address: cart.serviceIp, external: false }, 6],
    [frontend, { name: 'catalog.shop', address: catalog.serviceIp, external: false }, 8],
    [frontend, { name: 'payments-api.payments', address: payments.serviceIp, external: false }, 2],
    [cart, { name: 'catalog.shop', address: catalog.serviceIp, external: false }, 2],
    [payments, { name: 'api.stripe.com', address: '54.187.216.72', external: true }, 4],
    [frontend, { name: 'cart.shpo', address: '', external: false }, 1],
    [testPod, { name: 'nginx.default', address: nginx.serviceIp, external: false }, 3],
  ];
  return {
    services,
    kubeDns,
    lookups,
    /** [caller, callee, weight]; a null caller is a kubelet probe from the node's IP. */
    calls: [
      [frontend, cart, 6], [frontend, catalog, 8], [cart, catalog, 2], [frontend, payments, 2],
      [testPod, nginx, 3], [null, nginx, 4], [null, frontend, 2], [prometheus, nginx, 1], [prometheus, cart, 1],
    ] as Array<[Pick<Workload, 'namespace' | 'service' | 'workload' | 'pods'> | null, Workload, number]>,
  };
})();

const HTML = Buffer.from(
  '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1>\n' +
    '<p>If you see this page, the nginx web server is successfully installed and working.</p>\n</body></html>\n',
);
const NOT_FOUND = Buffer.from('<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.27.3</center>\r\n</body>\r\n</html>\r\n');
const ERROR_5XX = Buffer.from('{"error":"upstream connect error or disconnect/reset before headers","code":503}');
const JSON_BODIES = [
  Buffer.from('{"items":[{"id":42,"name":"Vintage Typewriter","price":67.99,"qty":1}],"total":67.99}'),
  Buffer.from('{"products":[{"id":1,"name":"Sunglasses"},{"id":2,"name":"Tank Top"},{"id":3,"name":"Watch"}],"page":1}'),
  Buffer.from('{"id":"ch_1","amount":1299,"currency":"usd","status":"succeeded"}'),
  Buffer.from('{"ok":true}'),
];
const REQUEST_BODIES = [
  Buffer.from('{"productId":42,"quantity":1}'),
  Buffer.from('{"amount":1299,"currency":"usd","source":"tok_visa"}'),
];
const USER_AGENTS = ['curl/8.5.0', 'Go-http-client/1.1', 'python-requests/2.32.3', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0'];
const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 301: 'Moved Permanently', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

function body(bytes: Buffer, encoding = ''): Body {
  // Wire size as if gzip-encoded bodies were ~3x smaller on the wire.
  const wire = encoding === 'gzip' ? Math.ceil(bytes.length / 3) + 20 : bytes.length;
  return { bytes, size: bytes.length, wireSize: wire, truncated: false, encoding };
}

const EMPTY = body(Buffer.alloc(0));

const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** UUIDv7 text: 48-bit millisecond time, version 7, variant 10, random bits from the PRNG. */
function uuidv7(ms: number, rnd: () => number): string {
  const t = Math.floor(ms);
  const hi = Math.floor(t / 0x1000000); // upper 24 bits of the 48-bit time
  const lo = t % 0x1000000;
  const r1 = (rnd() * 0x100000000) >>> 0;
  const r2 = (rnd() * 0x100000000) >>> 0;
  const r3 = (rnd() * 0x10000) >>> 0;
  return (
    HEX2[(hi >>> 16) & 0xff] + HEX2[(hi >>> 8) & 0xff] + HEX2[hi & 0xff] + HEX2[(lo >>> 16) & 0xff] + '-' +
    HEX2[(lo >>> 8) & 0xff] + HEX2[lo & 0xff] + '-' +
    HEX2[0x70 | ((r1 >>> 24) & 0x0f)] + HEX2[(r1 >>> 16) & 0xff] + '-' +
    HEX2[0x80 | ((r1 >>> 8) & 0x3f)] + HEX2[r1 & 0xff] + '-' +
    HEX2[r2 >>> 24] + HEX2[(r2 >>> 16) & 0xff] + HEX2[(r2 >>> 8) & 0xff] + HEX2[r2 & 0xff] + HEX2[r3 >>> 8] + HEX2[r3 & 0xff]
  );
}

/** Produces `count` entries, oldest first, spread over [startUs, startUs + spanUs). */
export function* syntheticEntries(options: SyntheticOptions): Generator<Entry> {
  const rnd = seededRandom(options.seed ?? 1);
  const spanUs = options.spanUs ?? 3_600_000_000;
  const startUs = options.startUs ?? Date.now() * 1000 - spanUs;
  const agent = options.agent ?? 'synthetic';
  const { calls } = SYNTHETIC_TOPOLOGY;
  const totalWeight = calls.reduce((s, c) => s + c[2], 0);
  const step = spanUs / Math.max(1, options.count);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  let dateSecond = -1;
  let dateHeader = '';
  const dns = options.protocols?.includes('dns') ?? false;
  const lookupWeight = SYNTHETIC_TOPOLOGY.lookups.reduce((s, l) => s + l[2], 0);

  function lookupEntry(start: number): Entry {
    let w = rnd() * lookupWeight;
    let lookup = SYNTHETIC_TOPOLOGY.lookups[0];
    for (const l of SYNTHETIC_TOPOLOGY.lookups) {
      w -= l[2];
      if (w < 0) { lookup = l; break; }
    }
    const [caller, name] = lookup;
    const pod = pick(caller.pods);
    const server = SYNTHETIC_TOPOLOGY.kubeDns;
    const dnsPod = pick(server.pods);
    // The outside resolver fails a third of its lookups in one minute of every ten.
    const servfail = name.external && Math.floor(start / 60e6) % 10 === 7 && rnd() < 0.33;
    const unanswered = rnd() < 0.003;
    const mean = name.external ? 18_000 : server.medianUs;
    const x: Exchange = syntheticLookup(name, caller.namespace, {
      step: Math.floor(rnd() * lookupSteps(name)),
      aaaa: rnd() < 0.5,
      servfail,
      id: Math.floor(rnd() * 65536),
      startUs: start,
      durationUs: Math.max(40, Math.round(mean * Math.exp(0.5 * normal()))),
      unanswered,
    });
    return entryOf(x, {
      id: uuidv7(x.endUs / 1000, rnd),
      agent: pod.node === NODES[0] ? agent : `${agent}-2`,
      protocol: dnsDissector.protocol,
      transport: 'udp',
      src: { ip: pod.ip, port: 32768 + Math.floor(rnd() * 28000), pod: pod.name, namespace: caller.namespace, service: caller.service, workload: caller.workload, node: pod.node },
      dst: { ip: dnsPod.ip, port: 53, pod: dnsPod.name, namespace: server.namespace, service: server.service, workload: server.workload, node: dnsPod.node },
      outcome: dnsDissector.outcome(x),
      fields: x.fields,
    });
  }

  for (let i = 0; i < options.count; i++) {
    const start = Math.floor(startUs + i * step + rnd() * step);
    if (dns && rnd() < DNS_SHARE) {
      yield lookupEntry(start);
      continue;
    }
    let w = rnd() * totalWeight;
    let call = calls[0];
    for (const c of calls) {
      w -= c[2];
      if (w < 0) { call = c; break; }
    }
    const [caller, callee] = call;
    const srcPod = caller ? pick(caller.pods) : null;
    const node = srcPod?.node ?? pick(NODES);
    const src: Endpoint = caller && srcPod
      ? { ip: srcPod.ip, port: 32768 + Math.floor(rnd() * 28000), pod: srcPod.name, namespace: caller.namespace, service: caller.service, workload: caller.workload, node: srcPod.node }
      : { ip: NODE_IPS[NODES.indexOf(node)], port: 40000 + Math.floor(rnd() * 20000), pod: '', namespace: '', service: '', workload: '', node };
    const dstPod = pick(callee.pods);
    const dst: Endpoint = { ip: dstPod.ip, port: callee.port, pod: dstPod.name, namespace: callee.namespace, service: callee.service, workload: callee.workload, node: dstPod.node };
    const probe = caller === null || caller.service === 'prometheus';
    const route = probe
      ? { method: 'GET', path: callee.service === 'nginx' ? pick(['/index.html', '/50x.html']) : '/healthz', html: callee.service === 'nginx', weight: 1 }
      : pickRoute(callee.routes, rnd);

    // A 5xx burst: one minute in every ten, the called service fails a third of its requests.
    const minute = Math.floor(start / 60e6);
    const inBurst = minute % 10 === 3 && (callee.service === 'cart' || callee.service === 'nginx');
    const roll = rnd();
    let status: number;
    if (route.path === '/error.html') status = 404;
    else if (inBurst && roll < 0.33) status = pick([500, 502, 503]);
    else if (roll < 0.004) status = pick([500, 503, 504]);
    else if (roll < 0.03) status = 404;
    else if (roll < 0.04) status = pick([400, 401]);
    else if (roll < 0.06) status = route.method === 'GET' ? 304 : 201;
    else if (roll < 0.065) status = 301;
    else status = route.method === 'POST' ? 201 : route.method === 'DELETE' ? 204 : 200;
    const unanswered = rnd() < 0.002;
    const incomplete = !unanswered && rnd() < 0.001;

    const durationUs = unanswered ? 0 : Math.max(50, Math.round(callee.medianUs * Math.exp(callee.sigma * normal() + (status >= 500 ? 1 : 0))));
    const host = caller?.namespace === callee.namespace ? callee.service : `${callee.service}.${callee.namespace}`;
    const reqBody = route.method === 'POST' ? body(pick(REQUEST_BODIES)) : EMPTY;
    const resBytes =
      status === 404 ? NOT_FOUND : status >= 500 ? ERROR_5XX : status === 204 || status === 304 || status === 301 ? null
        : route.html ? HTML : pick(JSON_BODIES);
    const gzip = resBytes !== null && !probe && rnd() < 0.3;
    const resBody = unanswered || resBytes === null ? EMPTY : body(resBytes, gzip ? 'gzip' : '');
    const contentType = route.html || status === 404 ? 'text/html' : 'application/json';

    const requestHeaders: Array<[string, string]> = [
      ['Host', `${host}${callee.port === 80 ? '' : `:${callee.port}`}`],
      ['User-Agent', probe ? (caller ? 'Prometheus/2.54.1' : 'kube-probe/1.31') : pick(USER_AGENTS)],
      ['Accept', '*/*'],
    ];
    if (reqBody.size > 0) requestHeaders.push(['Content-Type', 'application/json'], ['Content-Length', String(reqBody.size)]);
    if (!probe) requestHeaders.push(['X-Request-Id', uuidv7(start / 1000, rnd)]);
    if (Math.floor(start / 1e6) !== dateSecond) {
      dateSecond = Math.floor(start / 1e6);
      dateHeader = new Date(dateSecond * 1000).toUTCString();
    }
    const responseHeaders: Array<[string, string]> = unanswered ? [] : [
      ['Server', callee.service === 'nginx' ? 'nginx/1.27.3' : 'envoy'],
      ['Date', dateHeader],
      ['Content-Type', contentType],
      ['Content-Length', String(resBody.wireSize)],
    ];
    if (gzip) responseHeaders.push(['Content-Encoding', 'gzip'], ['Vary', 'Accept-Encoding']);
    if (status === 301) responseHeaders.push(['Location', `${route.path}/`]);

    yield {
      id: uuidv7(start / 1000 + durationUs / 1000, rnd),
      agent: node === NODES[0] ? agent : `${agent}-2`,
      protocol: 'http',
      protocolVersion: '1.1',
      transport: 'tcp',
      startUs: start,
      endUs: start + durationUs,
      durationUs,
      src,
      dst,
      operation: route.method,
      target: route.path,
      query: route.query ?? '',
      host,
      status: unanswered ? 0 : status,
      statusText: unanswered ? '' : STATUS_TEXT[status],
      outcome: httpOutcome({ unanswered, status }),
      requestHeaders: HeaderList.of(requestHeaders),
      responseHeaders: HeaderList.of(responseHeaders),
      requestBody: reqBody,
      responseBody: resBody,
      fields: NO_FIELDS,
      unanswered,
      incomplete,
    };
  }
}

function pickRoute(routes: Workload['routes'], rnd: () => number): Workload['routes'][number] {
  const total = routes.reduce((s, r) => s + r.weight, 0);
  let w = rnd() * total;
  for (const r of routes) {
    w -= r.weight;
    if (w < 0) return r;
  }
  return routes[routes.length - 1];
}
