/**
 * The hub's protocol registry (`GET /api/v1/protocols`) as the plugin uses it: each protocol's
 * badge (abbreviation, colour), and the outcome classes every protocol shares. Frames carry the
 * badges as value mappings on their `protocol` field, so any panel (the stream panel, Grafana's
 * table) shows them without asking the data source again.
 */
import { MappingType, type Field, type ValueMapping } from '@grafana/data';
import type { ProtocolInfo, ProtocolsJson } from './types.js';

/**
 * Outcome classes by value, as the hub names them (`ProtocolsJson.outcomes`, entries/entry.ts):
 * the same for every protocol. Frames write the name, the filter language compares it.
 */
export const OUTCOME_NAMES = ['no response', 'ok', 'client error', 'server error', 'one-way'] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];

export function outcomeName(outcome: number): string {
  return OUTCOME_NAMES[outcome] ?? String(outcome);
}

/**
 * Grafana colour names by outcome, the same for every protocol. For HTTP these are the status
 * classes' colours: 2xx green, 4xx orange, 5xx red, no response grey (undefined: the theme's
 * secondary text). A one-way message expects no answer: informational blue.
 */
export const OUTCOME_COLORS: Readonly<Record<string, string | undefined>> = {
  'no response': undefined,
  ok: 'green',
  'client error': 'orange',
  'server error': 'red',
  'one-way': 'blue',
};

/** How a protocol is shown. `color` is undefined for a protocol the registry does not know: neutral. */
export interface ProtocolBadge {
  name: string;
  abbr: string;
  color?: string;
  longName?: string;
}

export function unknownBadge(name: string): ProtocolBadge {
  return { name, abbr: name.toUpperCase() };
}

/** The registry as the hub sent it, or empty when it could not be read (every protocol neutral). */
export class ProtocolRegistry {
  private readonly byName: Map<string, ProtocolInfo>;

  constructor(readonly json?: ProtocolsJson) {
    this.byName = new Map((json?.protocols ?? []).map((p) => [p.name, p]));
  }

  get protocols(): ProtocolInfo[] {
    return [...this.byName.values()];
  }

  info(name: string): ProtocolInfo | undefined {
    return this.byName.get(name);
  }

  badge(name: string): ProtocolBadge {
    const p = this.byName.get(name);
    return p ? { name, abbr: p.abbr || name.toUpperCase(), color: p.color || undefined, longName: p.longName } : unknownBadge(name);
  }

  /** Value mappings for a `protocol` field: the name shows as its abbreviation, in its colour. */
  mappings(): ValueMapping[] {
    if (this.byName.size === 0) return [];
    const options: Record<string, { text: string; color?: string; index: number }> = {};
    this.protocols.forEach((p, index) => {
      options[p.name] = { text: p.abbr || p.name, ...(p.color ? { color: p.color } : {}), index };
    });
    return [{ type: MappingType.ValueToText, options }];
  }
}

export const EMPTY_REGISTRY = new ProtocolRegistry();

/** Badges by protocol name, read back from a frame's `protocol` field (its value mappings). */
export function badgesFromField(field: Field | undefined): Map<string, ProtocolBadge> {
  const out = new Map<string, ProtocolBadge>();
  for (const m of field?.config.mappings ?? []) {
    if (m.type !== MappingType.ValueToText) continue;
    for (const [name, r] of Object.entries(m.options)) {
      out.set(name, { name, abbr: r.text ?? name.toUpperCase(), color: r.color || undefined });
    }
  }
  return out;
}

/** Value mappings for an `outcome` field: each class in its colour. */
export function outcomeMappings(): ValueMapping[] {
  const options: Record<string, { color?: string; index: number }> = {};
  OUTCOME_NAMES.forEach((n, index) => {
    const color = OUTCOME_COLORS[n];
    options[n] = { ...(color ? { color } : {}), index };
  });
  return [{ type: MappingType.ValueToText, options }];
}
