/** The hub's health answer in words for "Save & test". */
import type { TestDataSourceResponse } from '@grafana/data';
import type { HealthResponse } from './types.js';

const count = (n: number | undefined, what: string): string =>
  n === undefined ? '' : `${n.toLocaleString('en-US')} ${what}`;

export function describeHealth(h: HealthResponse): TestDataSourceResponse {
  const parts: string[] = [];
  if (h.store.reachable) {
    const stored = count(h.store.entries, 'entries stored');
    parts.push(`Store: reachable${stored ? `, ${stored}` : ''}.`);
  } else {
    parts.push(
      `Store: unreachable${h.store.message ? ` (${h.store.message})` : ''}. Queries fail until the hub can reach ClickHouse again.`,
    );
  }
  if (!h.agent) {
    parts.push('Capture: no agent runs in this hub (in a cluster, agents run as a DaemonSet and write to the store).');
  } else if (h.agent.running) {
    const figures = [count(h.agent.packets, 'packets'), count(h.agent.entries, 'entries'), count(h.agent.drops, 'dropped')]
      .filter(Boolean)
      .join(', ');
    parts.push(`Capture: running${figures ? ` (${figures} so far)` : ''}.`);
  } else {
    parts.push('Capture: stopped — no new traffic will appear until the agent runs again.');
  }
  const head =
    h.status === 'ok'
      ? `Connected to the Tapline hub ${h.version}.`
      : h.status === 'degraded'
        ? `The Tapline hub ${h.version} answers, but not everything works.`
        : `The Tapline hub ${h.version} answers, but reports itself down.`;
  return {
    status: h.status === 'ok' ? 'success' : h.status === 'degraded' ? 'warning' : 'error',
    message: `${head} ${parts.join(' ')}`,
  };
}
