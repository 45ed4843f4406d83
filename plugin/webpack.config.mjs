// Builds each plugin under src/<folder>/ (a folder with a plugin.json and a module.ts[x]) into
// dist/<plugin id>/ as Grafana loads it: an AMD module.js whose Grafana-provided libraries stay
// external, next to plugin.json, the logo, README and CHANGELOG. Plain JS on purpose: the
// create-plugin TypeScript config fails to load on Node 20 (see shared NOTES.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import CopyPlugin from 'copy-webpack-plugin';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, 'src');
const VERSION = JSON.parse(fs.readFileSync(path.join(HERE, 'package.json'), 'utf8')).version;

// What Grafana's frontend hands a plugin at load time (the list @grafana/create-plugin uses).
const EXTERNALS = [
  { 'amd-module': 'module' },
  'lodash',
  'jquery',
  'moment',
  'slate',
  'emotion',
  '@emotion/react',
  '@emotion/css',
  'prismjs',
  'slate-plain-serializer',
  '@grafana/slate-react',
  'react',
  'react-dom',
  'react-redux',
  'redux',
  'rxjs',
  'i18next',
  'react-router',
  'react-router-dom',
  'd3',
  'angular',
  /^@grafana\/ui/i,
  /^@grafana\/runtime/i,
  /^@grafana\/data/i,
  /^@grafana\/i18n/i,
];

function plugins() {
  return fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(SRC, d.name, 'plugin.json')))
    .map((d) => {
      const dir = path.join(SRC, d.name);
      const entry = ['module.ts', 'module.tsx'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
      const { id } = JSON.parse(fs.readFileSync(path.join(dir, 'plugin.json'), 'utf8'));
      return { dir, entry, id };
    });
}

export default (_env, argv) =>
  plugins().map(({ dir, entry, id }) => ({
    name: id,
    mode: argv.mode ?? 'production',
    target: 'web',
    context: dir,
    entry: { module: entry },
    devtool: 'source-map',
    externals: EXTERNALS,
    output: {
      path: path.join(HERE, 'dist', id),
      filename: '[name].js',
      library: { type: 'amd' },
      publicPath: `public/plugins/${id}/`,
      uniqueName: id,
      clean: true,
    },
    resolve: {
      extensions: ['.ts', '.tsx', '.js', '.jsx'],
      // Sources import './x.js' (ESM style); the file on disk is x.ts or x.tsx.
      extensionAlias: { '.js': ['.ts', '.tsx', '.js'] },
    },
    module: {
      rules: [
        {
          test: /\.[jt]sx?$/,
          exclude: /node_modules/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                parser: { syntax: 'typescript', tsx: true },
                transform: { react: { runtime: 'automatic' } },
                target: 'es2020',
              },
            },
          },
        },
        { test: /\.svg$/, type: 'asset/resource', generator: { filename: 'img/[name][ext]' } },
      ],
    },
    plugins: [
      new CopyPlugin({
        patterns: [
          // create-plugin's placeholders: the package version and the build date.
          {
            from: 'plugin.json',
            to: '.',
            transform: (content) =>
              content
                .toString()
                .replace(/%VERSION%/g, VERSION)
                .replace(/%TODAY%/g, new Date().toISOString().slice(0, 10)),
          },
          { from: 'img', to: 'img' },
          { from: 'README.md', to: '.' },
          { from: path.join(HERE, 'CHANGELOG.md'), to: '.' },
        ],
      }),
    ],
    performance: { hints: false },
    stats: 'errors-warnings',
  }));
