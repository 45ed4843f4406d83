/**
 * The hub: the HTTP API of docs/api.md over a store (fastify, typebox schemas, bearer auth,
 * closed CORS, limits, metrics) and the live stream.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from '../log.js';
import { compileExpr } from '../query/compile.js';
import { compileMatcher } from '../query/match.js';
import { completionContext } from '../query/completions.js';
import { FilterError } from '../query/errors.js';
import { lookupField } from '../query/fields.js';
import type { Store } from '../store/index.js';
import { bearerCheck, checkListenConfig, hostCheck } from './auth.js';
import { decodeCursor, encodeCursor, type Position } from './cursor.js';
import { EntryLookup, checkLimit, listEntries, MAX_LIMIT } from './entries.js';
import { ApiError, toApiError } from './errors.js';
import { distinctValues, fieldValuesSql, labelColumns } from './labels.js';
import { HandOffFeed, StoreFeed, type HandOffWriter, type LiveFeed, type LiveFilter, type LiveOptions } from './live.js';
import { createMetrics, type IngestCounters } from './metrics.js';
import { MAX_FILTER_LENGTH, RangeQuery, SafeInteger, TimeMs, compileUserFilter, parseUserFilter, timeRange } from './params.js';
import type { QueryLimits } from './run.js';
import { protocolsJson } from './protocols.js';
import { MAX_TOP, parseQuantiles, stats } from './stats.js';
import { catalog, MAX_TOP_ROWS, serviceMap, top, TOP_SORTS } from './topology.js';

const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

export interface AgentStatus {
  running: boolean;
  packets: number;
  entries: number;
  drops: number;
  [counter: string]: unknown;
}

export interface HubOptions {
  store: Store;
  /** Bearer token; required when `host` is not loopback. */
  token?: string;
  /** Where `listen()` binds (default 127.0.0.1:8787); also decides whether a token is required. */
  host?: string;
  port?: number;
  /** Origins allowed by CORS; none by default (Grafana reaches the hub through its proxy). */
  corsOrigins?: string[];
  /**
   * Names besides 127.0.0.1, localhost, [::1] and `host` that a hub without a token answers to
   * (in the `Host` header); every other name is refused against DNS rebinding (auth.ts hostCheck).
   */
  allowHosts?: string[];
  /** Longest a store query may run (ms, default 10000). */
  queryTimeoutMs?: number;
  live?: Partial<LiveOptions>;
  /**
   * The writer of this process, when the capture agent runs here too (`tapline up`): the stream is
   * then fed by hand-off (see live.ts, HandOffFeed) instead of following the store.
   */
  handOff?: HandOffWriter;
  /** Most concurrent live-stream clients (default 200). */
  maxStreams?: number;
  /** Agent counters, when an agent runs in this process. */
  agentStatus?: () => AgentStatus;
  /** Writer counters, when a writer runs in this process. */
  ingestCounters?: () => IngestCounters;
  logger?: Logger;
}

export interface Hub {
  app: FastifyInstance;
  live: LiveFeed;
  /** The same feed when fed by hand-off (`HubOptions.handOff`): agents push entries through `handOff.sinkFor(writer)`. */
  handOff?: HandOffFeed;
  /** Binds host:port; resolves to the URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const StreamQuery = Type.Object({
  filter: Type.Optional(Type.String()),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  wait: Type.Optional(SafeInteger({ minimum: 0, maximum: 30_000 })),
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 1000 })),
});
const EntriesQuery = Type.Composite([
  RangeQuery,
  Type.Object({
    limit: Type.Optional(SafeInteger({ minimum: 1 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  }),
]);
const StatsQuery = Type.Composite([
  RangeQuery,
  Type.Object({
    interval: Type.Optional(SafeInteger({ minimum: 1000, description: 'bucket size (ms)' })),
    groupBy: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'statusClass, outcome, protocol, service, none, or a field' })),
    metric: Type.Optional(Type.Union([Type.Literal('requests'), Type.Literal('errors'), Type.Literal('latency')])),
    q: Type.Optional(Type.String({ maxLength: 100 })),
    top: Type.Optional(SafeInteger({ minimum: 1, maximum: MAX_TOP, description: 'keep the N biggest series, the rest summed as other' })),
  }),
]);
const TopQuery = Type.Composite([
  RangeQuery,
  Type.Object({
    by: Type.String({ minLength: 1, maxLength: 100 }),
    sort: Type.Optional(Type.Union(TOP_SORTS.map((s) => Type.Literal(s)))),
    limit: Type.Optional(SafeInteger({ minimum: 1, maximum: MAX_TOP_ROWS })),
  }),
]);
const LabelQuery = Type.Object({
  from: Type.Optional(TimeMs()),
  to: Type.Optional(TimeMs()),
});
const ValidateBody = Type.Object({ filter: Type.String() });
const CompletionsQuery = Type.Object({
  prefix: Type.Optional(Type.String()),
  field: Type.Optional(Type.String({ maxLength: 100 })),
});

export async function createHub(options: HubOptions): Promise<Hub> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8787;
  checkListenConfig(host, options.token);
  const { store } = options;
  const limits: QueryLimits = { queryTimeoutMs: options.queryTimeoutMs ?? 10_000 };
  const liveOptions: LiveOptions = {
    settleMs: options.live?.settleMs ?? 250,
    pollMs: options.live?.pollMs ?? 200,
    maxLagMs: options.live?.maxLagMs ?? 3_600_000,
    ringEntries: options.live?.ringEntries,
  };
  const handOff = options.handOff ? new HandOffFeed(store, limits, liveOptions, options.handOff) : undefined;
  const live: LiveFeed = handOff ?? new StoreFeed(store, limits, liveOptions);
  const lookup = new EntryLookup(store);
  const maxStreams = options.maxStreams ?? 200;
  let streams = 0;
  /** Open SSE connections, ended when the hub closes (they are never idle), and their loops. */
  const sseClients = new Set<AbortController>();
  const sseLoops = new Set<Promise<void>>();
  const metrics = createMetrics(store, limits, options.ingestCounters);

  const app = Fastify({
    // Only failures: a request log line per poll would drown everything else.
    loggerInstance: options.logger?.child({ name: 'hub' }, { level: 'warn' }) as FastifyBaseLogger | undefined,
    bodyLimit: 64 * 1024,
    // The router's own refusals (a path parameter too long, a bad URL) in the API's error shape.
    frameworkErrors: (err, _req, reply) => {
      const e = toApiError(err);
      void (reply as FastifyReply).status(e.status).send(e.toJSON());
    },
    // strictNumbers: false. Under ajv's default (true) a query string's "Infinity" or "1e400" is
    // coerced to ±Infinity *after* the type check, and the limit keywords then skip it (they only
    // look at finite numbers): `wait=Infinity` passed `maximum: 30000`. Without it, `maximum` and
    // `minimum` see every number, and every integer parameter has both (params.ts SafeInteger).
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, strictNumbers: false } },
  });
  await app.register(cors, { origin: options.corsOrigins?.length ? options.corsOrigins : false });

  const check = options.token ? bearerCheck(options.token) : undefined;
  // With a token, the token is the protection; without one, only the hub's own names and origin.
  const ownHost = options.token ? undefined : hostCheck({ listenHost: host, allowHosts: options.allowHosts, corsOrigins: options.corsOrigins });
  app.addHook('onRequest', async (req) => {
    const origin = req.headers.origin;
    ownHost?.(req.headers.host, typeof origin === 'string' ? origin : undefined, req.socket?.localPort);
    // Health stays open for Kubernetes probes; it shows no traffic.
    if (check && req.url.split('?')[0] !== '/api/v1/health') check(req.headers.authorization);
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe(
      { route: req.routeOptions.url ?? 'unknown', method: req.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    void reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(new ApiError(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });

  app.get<{ Querystring: Static<typeof EntriesQuery> }>('/api/v1/entries', { schema: { querystring: EntriesQuery } }, async (req) => {
    const q = req.query;
    return listEntries(store, limits, parseUserFilter(q.filter), timeRange(q), checkLimit(q.limit, MAX_LIMIT), q.cursor);
  });

  app.get<{ Params: { id: string } }>(
    '/api/v1/entries/:id',
    { schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }) } },
    async (req) => {
      // An entry the stream showed a moment ago may still be on its way into the store.
      await handOff?.whenStored(req.params.id, 5_000);
      return lookup.get(req.params.id);
    },
  );

  app.get<{ Querystring: Static<typeof StreamQuery> }>('/api/v1/stream', { schema: { querystring: StreamQuery } }, async (req, reply) => {
    const q = req.query;
    const expr = parseUserFilter(q.filter);
    const filter: LiveFilter = { ...compileExpr(expr), match: compileMatcher(expr) };
    const lastEventId = req.headers['last-event-id'];
    const given = q.cursor ?? (typeof lastEventId === 'string' ? lastEventId : undefined);
    const cursor = given ? decodeCursor(given) : await live.head();
    if (streams >= maxStreams) throw new ApiError(503, 'too_large', `the hub serves at most ${maxStreams} live clients at once`);
    if ((req.headers.accept ?? '').includes('text/event-stream')) {
      const loop = sse(req, reply, cursor, filter, q.limit ?? 500);
      sseLoops.add(loop);
      return loop.finally(() => sseLoops.delete(loop));
    }
    streams++;
    try {
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      const deadline = Date.now() + (q.wait ?? 0);
      let pos = cursor;
      for (;;) {
        const batch = await live.read(pos, filter, q.limit ?? 500);
        pos = batch.cursor;
        if (batch.entries.length > 0 || Date.now() >= deadline || abort.signal.aborted) {
          return { entries: batch.entries, cursor: encodeCursor(pos) };
        }
        await live.waitForNew(batch.generation, deadline - Date.now(), abort.signal);
      }
    } finally {
      streams--;
    }
  });

  /** SSE: batches as they come, pings every 15 s; waits for the socket to drain (slow clients). */
  async function sse(req: FastifyRequest, reply: FastifyReply, start: Position, filter: LiveFilter, limit: number) {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    streams++;
    const abort = new AbortController();
    sseClients.add(abort);
    req.raw.on('close', () => abort.abort());
    const write = async (text: string) => {
      if (!raw.write(text)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            raw.off('drain', done);
            abort.signal.removeEventListener('abort', done);
            resolve();
          };
          raw.on('drain', done);
          abort.signal.addEventListener('abort', done);
        });
      }
    };
    let pos = start;
    try {
      await write(`event: ping\ndata: ${JSON.stringify({ cursor: encodeCursor(pos) })}\n\n`);
      while (!abort.signal.aborted) {
        const batch = await live.read(pos, filter, limit);
        pos = batch.cursor;
        if (batch.entries.length > 0) {
          const cursor = encodeCursor(pos);
          await write(`event: entries\nid: ${cursor}\ndata: ${JSON.stringify({ entries: batch.entries, cursor })}\n\n`);
          if (batch.entries.length === limit) continue;
        }
        const before = Date.now();
        await live.waitForNew(batch.generation, 15_000, abort.signal);
        if (!abort.signal.aborted && Date.now() - before >= 15_000) {
          await write(`event: ping\ndata: ${JSON.stringify({ cursor: encodeCursor(pos) })}\n\n`);
        }
      }
    } catch (err) {
      const e = toApiError(err);
      if (!abort.signal.aborted) raw.write(`event: error\ndata: ${JSON.stringify(e.toJSON())}\n\n`);
    } finally {
      streams--;
      sseClients.delete(abort);
      raw.end();
    }
  }

  app.get<{ Querystring: Static<typeof StatsQuery> }>('/api/v1/stats', { schema: { querystring: StatsQuery } }, async (req) => {
    const q = req.query;
    return stats(store, limits, parseUserFilter(q.filter), timeRange(q), {
      intervalMs: q.interval,
      groupBy: q.groupBy ?? 'none',
      metric: q.metric ?? 'requests',
      quantiles: parseQuantiles(q.q),
      top: q.top,
    });
  });

  app.get<{ Querystring: Static<typeof TopQuery> }>('/api/v1/top', { schema: { querystring: TopQuery } }, async (req) => {
    const q = req.query;
    return top(store, limits, parseUserFilter(q.filter), timeRange(q), { by: q.by, sort: q.sort ?? 'requests', limit: q.limit ?? 20 });
  });

  app.get<{ Querystring: RangeQuery }>('/api/v1/servicemap', { schema: { querystring: RangeQuery } }, async (req) =>
    serviceMap(store, limits, parseUserFilter(req.query.filter), timeRange(req.query)),
  );

  app.get<{ Querystring: RangeQuery }>('/api/v1/catalog', { schema: { querystring: RangeQuery } }, async (req) =>
    catalog(store, limits, parseUserFilter(req.query.filter), timeRange(req.query)),
  );

  app.post<{ Body: Static<typeof ValidateBody> }>('/api/v1/filter/validate', { schema: { body: ValidateBody } }, async (req) => {
    try {
      if (req.body.filter.length > MAX_FILTER_LENGTH) {
        return { valid: false, error: { message: `the filter is longer than ${MAX_FILTER_LENGTH} characters`, position: MAX_FILTER_LENGTH + 1 } };
      }
      compileUserFilter(req.body.filter);
      return { valid: true };
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      return { valid: false, error: { message: err.message, position: err.column, ...(err.expected ? { expected: err.expected } : {}) } };
    }
  });

  app.get<{ Querystring: Static<typeof CompletionsQuery> }>('/api/v1/filter/completions', { schema: { querystring: CompletionsQuery } }, async (req) => {
    const ctx = req.query.field ? { fields: [], operators: [], valuesOf: req.query.field } : completionContext(req.query.prefix ?? '');
    let values: string[] = [];
    const column = ctx.valuesOf ? fieldValuesSql(ctx.valuesOf) : undefined;
    if (column) {
      // The last hour up to the next whole second: completions asked in the same second share a query.
      const seen = await distinctValues(store, limits, [column], timeRange({}, Math.ceil(Date.now() / 1000) * 1000), 100);
      // Values as they would be typed: numbers bare, text quoted.
      const type = lookupField(ctx.valuesOf!)!.type;
      values = seen.map((v) => (type === 'string' || type === 'ip' ? JSON.stringify(v) : v));
    }
    return { fields: ctx.fields, operators: ctx.operators, values };
  });

  app.get<{ Params: { name: string }; Querystring: Static<typeof LabelQuery> }>(
    '/api/v1/labels/:name',
    { schema: { querystring: LabelQuery } },
    async (req) => ({ values: await distinctValues(store, limits, labelColumns(req.params.name), timeRange(req.query)) }),
  );

  app.get('/api/v1/protocols', async () => protocolsJson());

  app.get('/api/v1/health', async (_req, reply) => {
    const storeHealth: { reachable: boolean; message?: string; entries?: number } = { reachable: false };
    try {
      const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.entries`, format: 'JSONEachRow' });
      const [row] = await rs.json<{ n: number | string }>();
      storeHealth.reachable = true;
      storeHealth.entries = Number(row.n);
    } catch (err) {
      storeHealth.message = toApiError(err).message;
    }
    const agent = options.agentStatus?.();
    const status = !storeHealth.reachable ? 'down' : agent && (!agent.running || agent.drops > 0) ? 'degraded' : 'ok';
    if (status === 'down') void reply.status(503);
    return { status, store: storeHealth, ...(agent ? { agent } : {}), version: VERSION };
  });

  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return {
    app,
    live,
    handOff,
    async listen() {
      return app.listen({ host, port });
    },
    async close() {
      // Nothing may still be querying the store when the caller closes it next.
      for (const c of sseClients) c.abort();
      await live.close();
      await Promise.allSettled([...sseLoops]);
      await app.close();
    },
  };
}
