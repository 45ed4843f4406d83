/** `GET /api/v1/protocols`: the registry's descriptors as the plugin and the docs read them. */
import { OUTCOME_NAMES } from '../entries/entry.js';
import { transportsOf } from '../protocols/dissector.js';
import { protocols } from '../protocols/registry.js';
import { allFields, type FieldDef } from '../query/fields.js';
import type { ProtocolsJson } from './shapes.js';

const fieldInfo = (f: FieldDef) => ({ name: f.name.replace('[]', '["…"]'), aliases: [...f.aliases], type: f.type, doc: f.doc });

export function protocolsJson(): ProtocolsJson {
  const fields = allFields();
  return {
    protocols: protocols.all().map((d) => ({
      name: d.protocol,
      longName: d.longName,
      abbr: d.abbr,
      color: d.color,
      transports: transportsOf(d),
      ports: [...d.ports],
      fields: fields.filter((f) => f.protocols.includes(d.protocol)).map(fieldInfo),
      outcomes: { ...d.outcomes },
      secrets: [...d.secrets],
    })),
    outcomes: [...OUTCOME_NAMES],
    fields: fields.filter((f) => f.protocols.length === 0).map(fieldInfo),
  };
}
