import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { syntheticEntries } from '../../src/entries/synthetic.js';

const START = 1_764_000_000_000_000; // a fixed time, so runs compare
const take = (seed: number, count = 20_000) => [...syntheticEntries({ count, seed, startUs: START, spanUs: 3_600_000_000 })];

describe('synthetic entries', () => {
  const entries = take(1);

  it('are reproducible from the seed, and differ between seeds', () => {
    assert.deepEqual(take(1, 500), take(1, 500));
    assert.notDeepEqual(take(2, 500).map((e) => e.id), take(1, 500).map((e) => e.id));
  });

  it('are well-formed: ids UUIDv7 and unique, times ordered within the span, IPs valid', () => {
    const ids = new Set(entries.map((e) => e.id));
    assert.equal(ids.size, entries.length);
    for (const e of entries) {
      assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(e.startUs >= START && e.startUs < START + 3_600_000_000);
      assert.equal(e.endUs - e.startUs, e.durationUs);
      assert.ok(isIP(e.src.ip) && isIP(e.dst.ip));
      assert.equal(e.unanswered, e.status === 0);
      assert.equal(e.responseBody.size, e.responseBody.bytes.length);
    }
    for (let i = 1; i < entries.length; i++) assert.ok(entries[i].startUs >= entries[i - 1].startUs);
  });

  it('look like a small cluster: namespaces, services, probes, a status mix with 5xx bursts', () => {
    const set = (f: (e: (typeof entries)[number]) => string) => new Set(entries.map(f));
    assert.ok(set((e) => e.dst.namespace).size >= 3);
    assert.ok(set((e) => e.dst.service).size >= 5);
    assert.ok(entries.some((e) => e.requestHeaders.toPairs().some(([n, v]) => n === 'User-Agent' && v.startsWith('kube-probe'))));
    const share = (p: (e: (typeof entries)[number]) => boolean) => entries.filter(p).length / entries.length;
    assert.ok(share((e) => e.status >= 200 && e.status < 300) > 0.8);
    assert.ok(share((e) => e.status === 404) > 0.01);
    // 5xx come in bursts: some minute has far more than the average.
    const perMinute = new Map<number, number>();
    for (const e of entries) if (e.status >= 500) perMinute.set(Math.floor(e.startUs / 60e6), (perMinute.get(Math.floor(e.startUs / 60e6)) ?? 0) + 1);
    const counts = [...perMinute.values()];
    const mean = counts.reduce((a, b) => a + b, 0) / 60;
    assert.ok(Math.max(...counts) > 5 * mean, `max 5xx per minute ${Math.max(...counts)} vs mean ${mean}`);
  });

  it('have lognormal-looking latencies (a long right tail)', () => {
    const d = entries.filter((e) => !e.unanswered && e.dst.service === 'cart').map((e) => e.durationUs).sort((a, b) => a - b);
    const p50 = d[Math.floor(d.length / 2)];
    const p99 = d[Math.floor(d.length * 0.99)];
    assert.ok(p50 > 2000 && p50 < 8000, `cart p50 ${p50} µs`);
    assert.ok(p99 > 3 * p50, `p99 ${p99} vs p50 ${p50}`);
  });

  it("with DNS on, a share are the pods' lookups to kube-dns: search path NXDOMAINs, answers, SERVFAIL bursts from the outside resolver", () => {
    const mixed = [...syntheticEntries({ count: 20_000, seed: 5, startUs: START, spanUs: 3_600_000_000, protocols: ['http', 'dns'] })];
    const dns = mixed.filter((e) => e.protocol === 'dns');
    assert.ok(dns.length > 0.25 * mixed.length && dns.length < 0.35 * mixed.length, `${dns.length} lookups`);
    for (const e of dns) {
      assert.equal(e.transport, 'udp');
      assert.deepEqual([e.dst.namespace, e.dst.service, e.dst.port], ['kube-system', 'kube-dns', 53]);
      assert.ok(e.operation === 'A' || e.operation === 'AAAA');
      assert.equal(e.fields['dns.qname'], e.target);
    }
    const names = new Set(dns.map((e) => e.target));
    for (const n of ['api.stripe.com.payments.svc.cluster.local', 'api.stripe.com.svc.cluster.local', 'api.stripe.com.cluster.local', 'api.stripe.com', 'catalog.shop.svc.cluster.local']) {
      assert.ok(names.has(n), n);
    }
    const catalogA = dns.find((e) => e.target === 'catalog.shop.svc.cluster.local' && e.operation === 'A' && !e.unanswered)!;
    assert.deepEqual([catalogA.statusText, catalogA.outcome], ['NOERROR', 1]);
    assert.deepEqual(catalogA.responseHeaders.toPairs()[0], ['catalog.shop.svc.cluster.local', 'A 5 10.96.40.30']);
    const nx = dns.filter((e) => e.target.endsWith('.cluster.local') && e.target.startsWith('api.stripe.com.') && !e.unanswered);
    assert.ok(nx.length > 0 && nx.every((e) => e.status === 3 && e.statusText === 'NXDOMAIN' && e.outcome === 2));
    assert.ok(dns.filter((e) => e.target.startsWith('cart.shpo') && !e.unanswered).every((e) => e.statusText === 'NXDOMAIN'));
    const servfail = dns.filter((e) => e.statusText === 'SERVFAIL');
    assert.ok(servfail.length > 0);
    assert.ok(servfail.every((e) => e.target === 'api.stripe.com' && Math.floor(e.startUs / 60e6) % 10 === 7 && e.outcome === 3));
  });
});
