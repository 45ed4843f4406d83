/** Body views and "copy as curl", on entries shaped like the hub's (recorded fixtures). */
import type { EntryDetail } from '../../src/datasource/types';
import { bodyView, curlCommand, hasCurl } from '../../src/panel/body';
import { fixture } from '../support/recorded-hub';

const body = (patch: object) => ({ size: 0, wireSize: 0, truncated: false, encoding: '', contentType: '', ...patch });

test('JSON is pretty-printed, by content type or by shape', () => {
  expect(bodyView(body({ text: '{"a":1,"b":[true,null]}', contentType: 'application/json' }))).toEqual({
    kind: 'json',
    text: '{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}',
  });
  expect(bodyView(body({ text: '[1,2]' })).kind).toBe('json');
});

test('text that only looks like JSON (or was cut) stays text', () => {
  expect(bodyView(body({ text: '{"a":1,"b"', contentType: 'application/json', truncated: true }))).toEqual({ kind: 'text', text: '{"a":1,"b"' });
  expect(bodyView(body({ text: '<html></html>', contentType: 'text/html' }))).toEqual({ kind: 'text', text: '<html></html>' });
});

test('binary is a hex dump with offsets and printable characters', () => {
  const v = bodyView(fixture<EntryDetail>('entry-binary').requestBody);
  expect(v).toEqual({ kind: 'hex', shown: 4, text: `00000000  00 01 fe ff${' '.repeat(36)}  ....` });
  const seventeen = btoa('ABCDEFGHIJKLMNOPQ');
  expect(bodyView(body({ base64: seventeen })).kind === 'hex' && (bodyView(body({ base64: seventeen })) as { text: string }).text.split('\n')).toEqual([
    '00000000  41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP',
    `00000010  51${' '.repeat(45)}  Q`,
  ]);
});

test('no body', () => {
  expect(bodyView(body({ text: '' }))).toEqual({ kind: 'empty' });
  expect(bodyView(body({}))).toEqual({ kind: 'empty' });
});

test('copy as curl: method, headers (minus the ones curl sets), body, URL from Host', () => {
  const e = fixture<EntryDetail>('entry-404');
  expect(curlCommand(e)).toBe("curl -H 'User-Agent: curl/8.5.0' -H 'Accept: */*' 'http://nginx.default/error.html'");
  const post: EntryDetail = {
    ...e,
    operation: 'POST',
    query: 'a=1',
    requestHeaders: [['Content-Type', 'application/json'], ['X-Note', "it's"]],
    requestBody: { ...e.requestBody, text: '{"q":"it\'s"}' },
  };
  expect(curlCommand(post)).toBe(
    `curl -X POST -H 'Content-Type: application/json' -H 'X-Note: it'\\''s' --data-raw '{"q":"it'\\''s"}' 'http://nginx.default/error.html?a=1'`,
  );
  expect(curlCommand(fixture<EntryDetail>('entry-binary'))).toBe(
    "curl -X POST -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' 'http://api.default/upload' # the binary body (4 bytes) is left out",
  );
});

test('copy as curl is for HTTP entries only', () => {
  expect(hasCurl(fixture<EntryDetail>('entry-404'))).toBe(true);
  expect(hasCurl({ protocol: 'dns' })).toBe(false);
  expect(hasCurl({ protocol: 'tline' })).toBe(false);
});
