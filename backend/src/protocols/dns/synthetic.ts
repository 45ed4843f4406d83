/**
 * Synthetic DNS lookups for `tapline seed` and tests (entries/synthetic.ts): what a pod's resolver
 * sends to kube-dns with `ndots:5` and its search path. A short name resolves on the first try;
 * an outside name walks the search path first (NXDOMAIN for each suffix), then resolves, and its
 * upstream fails now and then (SERVFAIL). Messages are built as the parser would have read them
 * and turned into exchanges by the dissector's own `dnsExchange`, so they look like captured ones.
 */
import type { Exchange } from '../dissector.js';
import { dnsExchange, type Query, type Sent } from './dissector.js';
import { Flag, typeCode, type DnsMessage, type ResourceRecord } from './message.js';

const NOERROR = 0;
const SERVFAIL = 2;
const NXDOMAIN = 3;
const CLASS_IN = 1;
const A = typeCode('A')!;
const AAAA = typeCode('AAAA')!;
const SOA = typeCode('SOA')!;

/** A name a pod looks up: in-cluster (`svc.ns`) or outside (`api.stripe.com`), and what it resolves to. */
export interface LookupName {
  name: string;
  /** The address its A record holds; '' for a name that does not exist (a typo): NXDOMAIN to the end. */
  address: string;
  /** Outside the cluster: the search path is walked first. */
  external: boolean;
}

function message(id: number, flags: number, name: string, type: number, rcode: number, answers: ResourceRecord[], authority: ResourceRecord[]): DnsMessage {
  return {
    id, flags, opcode: 0, rcode, qdcount: 1, ancount: answers.length, nscount: authority.length, arcount: 0,
    questions: [{ name, type, qclass: CLASS_IN }],
    answers, authority, additional: [], answersRead: answers.length, authorityRead: authority.length, additionalRead: 0,
    edns: null, cut: false, trailing: 0,
  };
}

const soa = (zone: string): ResourceRecord => ({
  name: zone, type: SOA, rclass: CLASS_IN, ttl: 30, rdLength: 68,
  data: `ns.dns.${zone} hostmaster.${zone} 1733000000 7200 1800 86400 30`,
});

/**
 * The `step`-th query of a lookup of `target` from namespace `ns` (search path: ns.svc.cluster.local,
 * svc.cluster.local, cluster.local, then the name itself), A or AAAA, answered after `durationUs`
 * or, with `servfail`, failed by the upstream. Returns how many steps the lookup has, too.
 */
export function syntheticLookup(
  target: LookupName,
  ns: string,
  opts: { step: number; aaaa: boolean; servfail: boolean; id: number; startUs: number; durationUs: number; unanswered: boolean },
): Exchange {
  const search = target.external || target.address === '' ? [`${target.name}.${ns}.svc.cluster.local`, `${target.name}.svc.cluster.local`, `${target.name}.cluster.local`] : [];
  const names = [...search, search.length > 0 ? target.name : `${target.name}.svc.cluster.local`];
  const step = Math.min(opts.step, names.length - 1);
  const qname = names[step];
  const type = opts.aaaa ? AAAA : A;
  const query: Query = {
    msg: message(opts.id, Flag.rd, qname, type, NOERROR, [], []),
    dir: 0,
    startUs: opts.startUs,
    endUs: opts.startUs,
    retransmits: 0,
  };
  if (opts.unanswered) return dnsExchange(query, null, false);
  const last = step === names.length - 1;
  const flags = Flag.qr | Flag.rd | Flag.ra | (target.external ? 0 : Flag.aa);
  let rcode = NOERROR;
  let answers: ResourceRecord[] = [];
  let authority: ResourceRecord[] = [];
  if (!last || target.address === '') {
    rcode = NXDOMAIN;
    authority = [soa('cluster.local')];
  } else if (target.external && opts.servfail) rcode = SERVFAIL;
  else if (opts.aaaa) authority = target.external ? [] : [soa('cluster.local')];
  else answers = [{ name: qname, type: A, rclass: CLASS_IN, ttl: target.external ? 300 : 5, rdLength: 4, data: target.address }];
  const endUs = opts.startUs + opts.durationUs;
  const response: Sent = { msg: message(opts.id, flags, qname, type, rcode, answers, authority), dir: 1, startUs: endUs, endUs };
  return dnsExchange(query, response, false);
}

/** How many queries a lookup of `target` sends (one per search-path suffix tried, then the name). */
export const lookupSteps = (target: LookupName): number => (target.external || target.address === '' ? 4 : 1);
