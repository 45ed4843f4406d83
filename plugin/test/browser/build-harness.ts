/** Bundles the browser harness with esbuild (seconds), React 18 and Grafana's packages included. */
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = join(__dirname, '../..');

/**
 * One React: the plugin's React 18, resolved from plugin/ whoever imports it (a React 19 sits
 * hoisted at the repository root), keeping the packages' browser entry points.
 */
const oneReact: Plugin = {
  name: 'one-react',
  setup(b) {
    b.onResolve({ filter: /^react(-dom)?(\/.*)?$/ }, async (args) => {
      if (args.pluginData === 'one-react') return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: ROOT, pluginData: 'one-react' });
      return r.errors.length ? { errors: r.errors } : { path: r.path };
    });
  },
};

export async function buildHarness(): Promise<string> {
  const out = await build({
    entryPoints: [join(__dirname, 'harness.tsx')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    jsx: 'automatic',
    minify: false,
    sourcemap: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    loader: { '.svg': 'text', '.css': 'empty', '.woff': 'empty', '.woff2': 'empty', '.png': 'empty' },
    plugins: [oneReact],
  });
  return out.outputFiles[0].text;
}
