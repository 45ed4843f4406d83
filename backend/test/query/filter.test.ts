// The filter language: the examples users type compile to the expected SQL shape with the values
// as parameters, and malformed filters fail at the exact column a person would point at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter } from '../../src/query/compile.js';
import { FilterError } from '../../src/query/errors.js';

const examples: Array<[filter: string, sql: string, params: Record<string, string | number>]> = [
  ['http and response.status == 404', '(protocol = {p0:String}) AND (status = {p1:Int64})', { p0: 'http', p1: 404 }],
  [
    'src.ip == "10.244.1.7" and dst.service == "nginx"',
    '(src_ip = toIPv6({p0:String})) AND (dst_service = {p1:String})',
    { p0: '10.244.1.7', p1: 'nginx' },
  ],
  ['status >= 500 or latency > 250ms', '(status >= {p0:Int64}) OR (duration_us > {p1:UInt64})', { p0: 500, p1: 250_000 }],
  [
    'request.path.startsWith("/api") and not request.headers["user-agent"].contains("kube-probe")',
    "(startsWith(target, {p0:String})) AND (NOT (position(arrayStringConcat(arrayFilter((v, n) -> lower(n) = {p1:String}, request_header_values, request_header_names), ', '), {p2:String}) > 0))",
    { p0: '/api', p1: 'user-agent', p2: 'kube-probe' },
  ],
  ['dst.namespace == "default" && method == "POST"', '(dst_namespace = {p0:String}) AND (operation = {p1:String})', { p0: 'default', p1: 'POST' }],
  ['timestamp > now() - 5m', 'start_time > (now64(6) - toIntervalMicrosecond({p0:UInt64}))', { p0: 300_000_000 }],
  ['request.method == "GET" || !http', '(operation = {p0:String}) OR (NOT (protocol = {p1:String}))', { p0: 'GET', p1: 'http' }],
  ['dst.pod =~ "^nginx-"', 'match(dst_pod, {p0:String})', { p0: '^nginx-' }],
  ['path !~ "\\.html$"', 'NOT match(target, {p0:String})', { p0: '\\.html$' }],
  ['request.path.endsWith(".html")', 'endsWith(target, {p0:String})', { p0: '.html' }],
  ['response.body.contains("Not Found")', 'position(response_body, {p0:String}) > 0', { p0: 'Not Found' }],
  ['request.body.matches("a+b")', 'match(request_body, {p0:String})', { p0: 'a+b' }],
  ['status == 5xx', 'intDiv(status, 100) = {p0:UInt16}', { p0: 5 }],
  ['status >= 4xx', 'status >= {p0:UInt16}', { p0: 400 }],
  ['status > 4xx', 'status > {p0:UInt16}', { p0: 499 }],
  ['latency <= 2s', 'duration_us <= {p0:UInt64}', { p0: 2_000_000 }],
  ['latency > 1.5ms', 'duration_us > {p0:UInt64}', { p0: 1_500 }],
  ['response.size > 1KB', 'response_body_size > {p0:UInt64}', { p0: 1_000 }],
  ['request.size >= 2MiB', 'request_body_size >= {p0:UInt64}', { p0: 2_097_152 }],
  ['response.size > 512', 'response_body_size > {p0:UInt64}', { p0: 512 }],
  ['src.ip == 10.244.1.7', 'src_ip = toIPv6({p0:String})', { p0: '10.244.1.7' }],
  ['dst.ip != "fd00::1"', 'dst_ip != toIPv6({p0:String})', { p0: 'fd00::1' }],
  ['src.ip == "10.244.0.0/16"', 'isIPAddressInRange(toString(src_ip), {p0:String})', { p0: '::ffff:10.244.0.0/112' }],
  ['src.ip.startsWith("10.244.")', "startsWith(replaceRegexpOne(toString(src_ip), '^::ffff:', ''), {p0:String})", { p0: '10.244.' }],
  ['method in ["GET", "HEAD"]', '((operation = {p0:String}) OR (operation = {p1:String}))', { p0: 'GET', p1: 'HEAD' }],
  ['status not in [200, 304]', 'NOT ((status = {p0:Int64}) OR (status = {p1:Int64}))', { p0: 200, p1: 304 }],
  ['unanswered', 'unanswered', {}],
  ['not incomplete and response.truncated == false', '(NOT (incomplete)) AND (response_body_truncated = {p0:Bool})', { p0: 'false' }],
  ['timestamp >= "2026-01-31T12:00:00Z"', 'start_time >= fromUnixTimestamp64Micro({p0:Int64})', { p0: 1_769_860_800_000_000 }],
  ['dst.port == 80 and src.port > 1024', '(dst_port = {p0:Int64}) AND (src_port > {p1:Int64})', { p0: 80, p1: 1024 }],
  ['response.headers["Content-Type"] == "text/html"', "arrayStringConcat(arrayFilter((v, n) -> lower(n) = {p0:String}, response_header_values, response_header_names), ', ') = {p1:String}", { p0: 'content-type', p1: 'text/html' }],
  ['', '1', {}],
  ['(http or protocol == "grpc") and (status == 404)', '((protocol = {p0:String}) OR (protocol = {p1:String})) AND (status = {p2:Int64})', { p0: 'http', p1: 'grpc', p2: 404 }],
  ['status == 1 or src.port == 2 and dst.port == 3', '(status = {p0:Int64}) OR ((src_port = {p1:Int64}) AND (dst_port = {p2:Int64}))', { p0: 1, p1: 2, p2: 3 }],
];

for (const [filter, sql, params] of examples) {
  test(`compiles: ${filter || '(empty)'}`, () => {
    assert.deepEqual(compileFilter(filter), { sql, params });
  });
}

// Columns are 1-based and point at the offending token (or where the missing one should be).
const malformed: Array<[filter: string, column: number, messagePart: string]> = [
  ['http and response.status == ', 29, "expected a value after '=='"],
  ['src.ip == "10.244.1.7" and dst.service ==', 42, "expected a value after '=='"],
  ['status >= 500 or', 17, "expected a condition after 'or'"],
  ['http and', 9, "expected a condition after 'and'"],
  ['not', 4, "expected a condition after 'not'"],
  ['(status == 404', 15, "expected ')' to close the '(' at column 1"],
  ['status == 404)', 14, "expected 'and', 'or' or the end of the filter"],
  ['method = "GET"', 8, "use '==' to compare"],
  ['method == "GET', 11, 'unterminated string'],
  ['latency > 250', 11, 'latency is a duration'],
  ['latency > 250xs', 14, "unknown unit 'xs'"],
  ['method == 5', 11, 'method is text'],
  ['status == "404"', 11, 'status is a status code'],
  ['dst.servce == "nginx"', 1, "unknown field 'dst.servce' (did you mean 'dst.service'?)"],
  ['http and foo.bar == 1', 10, "unknown field 'foo.bar'"],
  ['status', 7, "expected an operator after 'status'"],
  ['method < "GET"', 8, "'<' does not apply to method"],
  ['path.startsWith(5)', 17, 'expects a "quoted string"'],
  ['path.lower("x")', 6, "unknown function 'lower'"],
  ['status.contains("5")', 1, '.contains() applies to text fields'],
  ['request.headers == "x"', 1, 'request.headers needs a name in brackets'],
  ['request.headers[host] == "x"', 17, "expected a quoted name after '['"],
  ['src.ip == "10.0.0.300"', 11, 'src.ip is an IP address'],
  ['src.ip == "10.0.0.0/40"', 11, 'src.ip is an IP address'],
  ['timestamp > now - 5m', 17, "expected '()' after 'now'"],
  ['timestamp > now() - 5', 21, "expected a duration like 5m after 'now() -'"],
  ['timestamp > "yesterday"', 13, 'timestamp is a time'],
  ['path =~ "(?=x)"', 9, 'look-arounds'],
  ['path =~ "a("', 9, 'invalid regular expression'],
  ['method in "GET"', 11, "expected '[' after 'in'"],
  ['method in ["GET" "POST"]', 18, "expected ',' or ']'"],
  ['http & status == 1', 6, "use '&&'"],
  ['status == 404 #', 15, "unexpected character '#'"],
  ['()', 2, "expected a condition after '('"],
  ['unanswered == 1', 15, 'unanswered is true or false'],
  ['dst.', 5, "expected a field name after '.'"],
  // Past 2^53 after unit conversion, times out of range, regexes RE2 refuses, too deep (issue 17).
  ['latency > 99999999999999999999s', 11, '99999999999999999999s is too large'],
  ['request.size > 9999999999999GiB', 16, '9999999999999GiB is too large'],
  ['timestamp > now() - 999999999999d', 21, '999999999999d is too large'],
  ['timestamp > now() - 36501d', 13, 'an offset from now() is at most 36500d'],
  ['status == 99999999999999999999', 11, 'is too large'],
  ['timestamp > "9999-12-31T23:59:59Z"', 13, 'timestamp: times must be from 1900-01-01 to 2254-12-31'],
  ['end < "0001-01-01"', 7, 'end: times must be from 1900-01-01'],
  ['path =~ "a{1001}"', 9, 'invalid repeat count'],
  ['path =~ "((a{100}){100}){100}"', 9, 'invalid repeat count'],
  ['path =~ "a**"', 9, 'invalid nested repetition'],
  ['path =~ "\\Z"', 9, 'invalid escape sequence'],
  ['path =~ "\\k<x>"', 9, 'back-references'],
  ['path =~ "\\e"', 9, 'invalid escape sequence'],
  ['path.matches("\\cA")', 14, 'invalid escape sequence'],
  ['path =~ "\\pL{1000}"', 9, 'the regular expression is too large'],
  ['not '.repeat(1000) + 'http', 401, 'the filter nests too deeply'],
  ['('.repeat(101) + 'http' + ')'.repeat(101), 101, 'the filter nests too deeply'],
];

for (const [filter, column, messagePart] of malformed) {
  test(`rejects at column ${column}: ${filter}`, () => {
    assert.throws(
      () => compileFilter(filter),
      (err: unknown) => {
        assert.ok(err instanceof FilterError, `not a FilterError: ${String(err)}`);
        assert.equal(err.code, 'bad_filter');
        assert.equal(err.column, column, err.message);
        assert.ok(err.message.includes(messagePart), err.message);
        assert.ok(err.message.endsWith(` at column ${column}`), err.message);
        return true;
      },
    );
  });
}

test('the deepest filter allowed and long chains of and/or compile and stay flat', () => {
  assert.equal(compileFilter('not '.repeat(100) + 'http').sql, 'NOT ('.repeat(100) + 'protocol = {p0:String}' + ')'.repeat(100));
  assert.equal(compileFilter('a.b == 1 or '.replace('a.b', 'dst.port').repeat(3) + 'http').sql, '(dst_port = {p0:Int64}) OR (dst_port = {p1:Int64}) OR (dst_port = {p2:Int64}) OR (protocol = {p3:String})');
  assert.equal(compileFilter(Array(500).fill('http').join(' and ')).sql.split(' AND ').length, 500);
  assert.equal(compileFilter('timestamp > "1900-01-01" and timestamp < "2254-12-31T23:59:59Z"').params.p0, -2_208_988_800_000_000);
});

test('the brief\'s own example message', () => {
  assert.throws(() => compileFilter('dst.namespace == "x" and status =='), { message: "expected a value after '==' at column 35" });
});
