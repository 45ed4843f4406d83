/**
 * The hub's JSON shapes, defined once (TypeBox): the hub builds its answers as these types and the
 * plugin imports the same types (`import type`), so neither side types an entry by hand.
 * docs/api.md describes them for people.
 */
import { Type, type Static } from '@sinclair/typebox';

export const EndpointShape = Type.Object({
  ip: Type.String(),
  port: Type.Integer(),
  pod: Type.String(),
  namespace: Type.String(),
  service: Type.String(),
  workload: Type.String(),
  node: Type.String(),
});
export type EndpointJson = Static<typeof EndpointShape>;

/** What lists and the live stream show of an entry, for any protocol. */
export const EntrySummaryShape = Type.Object({
  id: Type.String(),
  startUs: Type.Number(),
  durationUs: Type.Number(),
  protocol: Type.String(),
  protocolVersion: Type.String(),
  transport: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
  /** HTTP method, DNS query type, Redis command… */
  operation: Type.String(),
  /** HTTP path, DNS name, key, statement… */
  target: Type.String(),
  query: Type.String(),
  host: Type.String(),
  status: Type.Integer(),
  statusText: Type.String(),
  /** entries/entry.ts `Outcome`: 0 no response, 1 ok, 2 client error, 3 server error, 4 one-way. */
  outcome: Type.Integer({ minimum: 0, maximum: 4 }),
  unanswered: Type.Boolean(),
  incomplete: Type.Boolean(),
  src: EndpointShape,
  dst: EndpointShape,
  requestSize: Type.Number(),
  responseSize: Type.Number(),
  agent: Type.String(),
  /** Typed protocol fields by name (`dns.rcode`…), as the protocol's descriptor declares them. */
  fields: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()])),
});
export type EntrySummary = Static<typeof EntrySummaryShape>;

export const BodyShape = Type.Object({
  text: Type.Optional(Type.String()),
  base64: Type.Optional(Type.String()),
  size: Type.Number(),
  wireSize: Type.Number(),
  truncated: Type.Boolean(),
  encoding: Type.String(),
  contentType: Type.String(),
});
export type BodyJson = Static<typeof BodyShape>;

/** How the entry is shown to a person: its protocol's sections, rendered alike everywhere. */
export const SectionShape = Type.Union([
  Type.Object({ kind: Type.Literal('table'), title: Type.String(), rows: Type.Array(Type.Tuple([Type.String(), Type.String()])) }),
  Type.Object({ kind: Type.Literal('body'), title: Type.String(), body: BodyShape }),
]);
export type SectionJson = Static<typeof SectionShape>;

const HeaderPairs = Type.Array(Type.Tuple([Type.String(), Type.String()]));

/** One entry in full: the summary, both sides' attributes and payloads, and its sections. */
export const EntryDetailShape = Type.Composite([
  EntrySummaryShape,
  Type.Object({
    endUs: Type.Number(),
    requestHeaders: HeaderPairs,
    responseHeaders: HeaderPairs,
    requestBody: BodyShape,
    responseBody: BodyShape,
    sections: Type.Array(SectionShape),
  }),
]);
export type EntryDetail = Static<typeof EntryDetailShape>;

export const FieldInfoShape = Type.Object({
  name: Type.String(),
  aliases: Type.Array(Type.String()),
  type: Type.String(),
  doc: Type.String(),
});

/** `GET /api/v1/protocols`: what the registry holds, for the plugin's colours, legends and docs. */
export const ProtocolInfoShape = Type.Object({
  name: Type.String(),
  longName: Type.String(),
  abbr: Type.String(),
  color: Type.String(),
  transports: Type.Array(Type.Union([Type.Literal('tcp'), Type.Literal('udp')])),
  ports: Type.Array(Type.Integer()),
  fields: Type.Array(FieldInfoShape),
  /** What each outcome class means for this protocol. */
  outcomes: Type.Record(Type.String(), Type.String()),
  secrets: Type.Array(Type.String()),
});
export type ProtocolInfo = Static<typeof ProtocolInfoShape>;

export const ProtocolsShape = Type.Object({
  protocols: Type.Array(ProtocolInfoShape),
  /** Outcome class names by value (0..4). */
  outcomes: Type.Array(Type.String()),
  /** The envelope's fields, common to every protocol. */
  fields: Type.Array(FieldInfoShape),
});
export type ProtocolsJson = Static<typeof ProtocolsShape>;

/** `GET /api/v1/entries`: a page, newest first. */
export const EntriesPageShape = Type.Object({ entries: Type.Array(EntrySummaryShape), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export type EntriesPage = Static<typeof EntriesPageShape>;

/** `GET /api/v1/stream` (long-poll) and each SSE `entries` event: oldest first. */
export const StreamPageShape = Type.Object({ entries: Type.Array(EntrySummaryShape), cursor: Type.String() });
export type StreamPage = Static<typeof StreamPageShape>;

export const StatsShape = Type.Object({
  intervalMs: Type.Number(),
  series: Type.Array(Type.Object({ name: Type.String(), points: Type.Array(Type.Tuple([Type.Number(), Type.Number()])) })),
});
export type StatsJson = Static<typeof StatsShape>;

export const ServiceMapNodeShape = Type.Object({
  id: Type.String(),
  title: Type.String(),
  subtitle: Type.String(),
  namespace: Type.String(),
  requests: Type.Number(),
  ratePerSec: Type.Number(),
  errorRate: Type.Number(),
  p95Ms: Type.Number(),
  /** HTTP status-class shares. */
  share2xx: Type.Number(),
  share3xx: Type.Number(),
  share4xx: Type.Number(),
  share5xx: Type.Number(),
  /** Shares by outcome, for every protocol (they add up to 1 for a node that received requests). */
  shareOk: Type.Number(),
  shareClientError: Type.Number(),
  shareServerError: Type.Number(),
  shareNoResponse: Type.Number(),
  shareOneWay: Type.Number(),
});
export type ServiceMapNode = Static<typeof ServiceMapNodeShape>;

export const ServiceMapEdgeShape = Type.Object({
  id: Type.String(),
  source: Type.String(),
  target: Type.String(),
  requests: Type.Number(),
  ratePerSec: Type.Number(),
  errorRate: Type.Number(),
  p95Ms: Type.Number(),
  protocols: Type.Array(Type.String()),
});
export type ServiceMapEdge = Static<typeof ServiceMapEdgeShape>;

export const ServiceMapShape = Type.Object({ nodes: Type.Array(ServiceMapNodeShape), edges: Type.Array(ServiceMapEdgeShape) });
export type ServiceMapJson = Static<typeof ServiceMapShape>;

/** What the catalog and `top` say of each group: counts (failed = client and server errors, no response) and latency. */
export const CallStatsShape = Type.Object({
  requests: Type.Number(),
  succeeded: Type.Number(),
  failed: Type.Number(),
  avgMs: Type.Number(),
  p95Ms: Type.Number(),
  protocols: Type.Array(Type.String()),
});
export type CallStats = Static<typeof CallStatsShape>;

export const CatalogServiceShape = Type.Composite([Type.Object({ service: Type.String(), namespace: Type.String() }), CallStatsShape]);
export type CatalogService = Static<typeof CatalogServiceShape>;

export const CatalogShape = Type.Object({ services: Type.Array(CatalogServiceShape) });
export type CatalogJson = Static<typeof CatalogShape>;

/** `GET /api/v1/top`: a field's values (as text; '' for none) with their figures, best first. */
export const TopRowShape = Type.Composite([Type.Object({ value: Type.String() }), CallStatsShape]);
export type TopRow = Static<typeof TopRowShape>;
export const TopShape = Type.Object({ by: Type.String(), rows: Type.Array(TopRowShape) });
export type TopJson = Static<typeof TopShape>;
