#!/usr/bin/env node
// Runs the compiled CLI (backend/dist, from `npm run build`) when it is newer than every source
// file, else the TypeScript sources through tsx: `npx tapline` works from a checkout without a
// build, and a build never runs stale code.
import { readdirSync, statSync } from 'node:fs';

const sources = new URL('../src/', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);

function newestChange(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(e.isDirectory() ? `${e.name}/` : e.name, dir);
    t = Math.max(t, e.isDirectory() ? newestChange(url) : statSync(url).mtimeMs);
  }
  return t;
}

let fresh = false;
try {
  fresh = statSync(built).mtimeMs >= newestChange(sources);
} catch {
  // no build
}
if (fresh) await import(built.href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
