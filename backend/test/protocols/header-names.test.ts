/** Header name comparison, checked against the engine's own String#toLowerCase. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalsLowercase } from '../../src/protocols/header-names.js';

test('equalsLowercase agrees with toLowerCase for ASCII, latin1 and other names', () => {
  const names = ['Authorization', 'AUTHORIZATION', 'authorization', 'Authorizatio', 'Authorizations', 'X-Api-Key', 'x-api-kez',
    'Ünïcode', 'ÜNÏCODE', '×Mult', 'ßharp', 'ÞORN', 'İstanbul', 'KELVIN', 'K', ''];
  const lowers = ['authorization', 'x-api-key', 'ünïcode', '×mult', 'ßharp', 'þorn', 'i̇stanbul', 'kelvin', 'k', ''];
  for (const name of names) {
    for (const lower of lowers) assert.equal(equalsLowercase(name, lower), name.toLowerCase() === lower, `${name} vs ${lower}`);
  }
});
