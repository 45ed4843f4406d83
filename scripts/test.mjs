#!/usr/bin/env node
// The one test command: type-check and lint, the backend and end-to-end suites (node:test via tsx),
// and the plugin's Jest suite when the plugin exists. Ends with the line CI reads:
// "N passed, N failed".
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2); // optional path fragments to run a subset
let passed = 0;
let failed = 0;
const failures = [];

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { cwd: root, env: process.env, ...opts });
    const tee = (stream, sink) =>
      stream.on('data', (d) => {
        out += d;
        sink.write(d);
      });
    tee(child.stdout, process.stdout);
    tee(child.stderr, process.stderr);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function findTests(dir, acc = []) {
  if (!existsSync(dir)) return acc;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, acc);
    else if (/\.test\.ts$/.test(name)) acc.push(relative(root, p));
  }
  return acc;
}

async function step(name, cmd, args) {
  const { code } = await run(cmd, args);
  if (code === 0) passed++;
  else {
    failed++;
    failures.push(name);
  }
}

if (only.length === 0) {
  await step('typecheck (tsc -p backend)', 'npx', ['tsc', '-p', 'backend', '--noEmit']);
  await step('lint (eslint)', 'npx', ['eslint', '.']);
}

const files = [...findTests(join(root, 'backend/test')), ...findTests(join(root, 'test'))].filter(
  (f) => only.length === 0 || only.some((o) => f.includes(o)),
);
if (files.length > 0) {
  const { out } = await run('node', [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=300000',
    '--test-reporter=spec',
    ...files,
  ]);
  const pass = /ℹ pass (\d+)/.exec(out);
  const fail = /ℹ fail (\d+)/.exec(out);
  const cancelled = /ℹ cancelled (\d+)/.exec(out);
  if (!pass || !fail) {
    failed++;
    failures.push('node:test did not print a summary');
  } else {
    passed += Number(pass[1]);
    failed += Number(fail[1]) + Number(cancelled ? cancelled[1] : 0);
    if (Number(fail[1]) > 0) failures.push(`node:test: ${fail[1]} failed`);
  }
}

const pluginPkg = join(root, 'plugin/package.json');
const wantPlugin = only.length === 0 || only.some((o) => o.startsWith('plugin'));
if (wantPlugin && existsSync(pluginPkg) && JSON.parse(readFileSync(pluginPkg, 'utf8')).scripts?.test) {
  const report = join(tmpdir(), `tapline-jest-${process.pid}.json`);
  await run('npm', ['test', '--workspace', 'plugin', '--', '--ci', '--json', `--outputFile=${report}`]);
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
    if (r.numFailedTests || r.numRuntimeErrorTestSuites) failures.push('plugin jest');
    rmSync(report);
  } else {
    failed++;
    failures.push('plugin jest wrote no report');
  }
}

if (failures.length) console.log(`\nFailed: ${failures.join('; ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
