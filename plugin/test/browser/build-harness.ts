/** Bundles browser pages with esbuild (seconds), React 18 and Grafana's packages included. */
import { build, type Plugin } from 'esbuild';


/**
 * One React: the plugin's React 18, resolved from plugin/ whoever imports it (a React 19 sits
 * hoisted at the repository root), keeping the packages' browser entry points.
 */
const oneReact = (root: string): Plugin => ({
  name: 'one-react',
  setup(b) {
    b.onResolve({ filter: /^react(-dom)?(\/.*)?$/ }, async (args) => {
      if (args.pluginData === 'one-react') return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: root, pluginData: 'one-react' });
      return r.errors.length ? { errors: r.errors } : { path: r.path };
    });
  },
});

/** Bundles a page entry into one browser script; `pluginRoot` is plugin/ (where React 18 lives). */
export async function bundlePage(entry: string, pluginRoot: string): Promise<string> {
  const out = await build({
    entryPoints: [entry],
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
    plugins: [oneReact(pluginRoot)],
  });
  return out.outputFiles[0].text;
}
