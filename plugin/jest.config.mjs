// Jest for the plugins: swc turns TS/TSX (and the .mjs files some Grafana dependencies ship)
// into CommonJS; jsdom by default, node for tests that only talk HTTP.
/** @type {import('jest').Config} */
export default {
  testEnvironment: '<rootDir>/test/support/jsdom-with-fetch.mjs',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  setupFilesAfterEnv: ['<rootDir>/jest.setup.ts'],
  moduleNameMapper: {
    // One React for everything: npm hoisted a React 19 (pulled by peer ranges) to the root, while
    // the plugin and Grafana 12.4 use React 18 from plugin/node_modules.
    '^react$': '<rootDir>/node_modules/react',
    '^react/(.*)$': '<rootDir>/node_modules/react/$1',
    '^react-dom$': '<rootDir>/node_modules/react-dom',
    '^react-dom/(.*)$': '<rootDir>/node_modules/react-dom/$1',
    // Sources import './x.js'; the file on disk is x.ts or x.tsx.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '\\.(css|svg)$': '<rootDir>/test/support/file-stub.cjs',
  },
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { transform: { react: { runtime: 'automatic' } } } }],
    '^.+\\.mjs$': ['@swc/jest'],
  },
  // Grafana's packages pull ESM-only dependencies (d3-*, and others ship .mjs): transform those too.
  transformIgnorePatterns: [
    `node_modules/(?!(${[
      'd3-[^/]*',
      'internmap',
      'ol',
      'marked',
      'react-calendar',
      'get-user-locale',
      'memoize',
      'mimic-function',
      '@wojtekmaj',
      'react-colorful',
      '@grafana/[^/]*',
    ].join('|')})/)`,
  ],
  testTimeout: 20000,
};
