// The docs stay true to the field table: every envelope field and alias the filter language
// accepts is in docs/filter-language.md, and every field the doc's table names exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { allFields, lookupField } from '../../src/query/fields.js';
import { builtinDissectors } from '../../src/protocols/registry.js';

const doc = readFileSync(new URL('../../../docs/filter-language.md', import.meta.url), 'utf8');
const fieldRows = doc.slice(doc.indexOf('## Fields'), doc.indexOf('## Operators'));

test('every envelope field and alias is documented', () => {
  for (const f of allFields().filter((d) => d.protocols.length === 0)) {
    for (const name of [f.name, ...f.aliases]) {
      const shown = name.replace('[]', '["name"]');
      assert.ok(fieldRows.includes(`\`${shown}\``), `docs/filter-language.md does not list ${shown}`);
    }
  }
});

test('every field the doc lists exists', () => {
  const names = [...fieldRows.matchAll(/^\| (.+?) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([a-zA-Z.]+(?:\["name"\])?)`/g)].map((n) => n[1]));
  assert.ok(names.length > 30, `only ${names.length} names read from the table`);
  for (const n of names) {
    // "(same for `dst.`)" and "`….body.wireSize`" style shorthands are not field names.
    if (n.endsWith('.')) continue;
    assert.ok(lookupField(n.replace('["name"]', '[]')), `docs/filter-language.md lists ${n}, which the filter language does not know`);
  }
});

test('every field of every built-in protocol is listed in docs/protocols.md', () => {
  const protocolsDoc = readFileSync(new URL('../../../docs/protocols.md', import.meta.url), 'utf8');
  const listed = protocolsDoc.slice(protocolsDoc.indexOf('## The protocols Tapline dissects'));
  let n = 0;
  for (const d of builtinDissectors) {
    assert.ok(listed.includes(`### \`${d.protocol}\``), `docs/protocols.md has no section for ${d.protocol}`);
    for (const f of d.fields) {
      n++;
      assert.ok(listed.includes(`| \`${f.name}\` |`), `docs/protocols.md does not list ${f.name}`);
    }
  }
  assert.ok(n >= 6, `${n} protocol fields checked`);
});
