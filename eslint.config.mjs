// @ts-check
import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * ARCHITECTURE.md §1 and rule 12: the import table as machine-checked rules. Zones need a resolver
 * that knows `.ts` (without one no zone fires: the rule cannot tell where an import points), and
 * each rule is proven by a fixture that must fail (test/unit/lint/boundaries.test.ts).
 */
const zones = [
  {
    target: './src/shared',
    from: [
      './src/core',
      './src/main',
      './src/preload',
      './src/renderer',
      './src/server',
      './src/cli',
      './src/device',
    ],
    message: 'src/shared runs everywhere and imports only zod (ARCHITECTURE.md §1).',
  },
  {
    target: './src/core',
    from: [
      './src/main',
      './src/preload',
      './src/renderer',
      './src/server',
      './src/cli',
      './src/device',
    ],
    message:
      'src/core is the library the others use: it imports only src/shared (ARCHITECTURE.md §1).',
  },
  {
    target: './src/main',
    from: ['./src/renderer', './src/server', './src/cli', './src/preload', './src/device'],
    message: 'src/main may import src/core and src/shared only (ARCHITECTURE.md §1).',
  },
  {
    target: './src/preload',
    from: [
      './src/core',
      './src/main',
      './src/renderer',
      './src/server',
      './src/cli',
      './src/device',
    ],
    message:
      'The sandboxed preload imports electron and src/shared types only (ARCHITECTURE.md §1).',
  },
  {
    target: './src/renderer',
    from: [
      './src/core',
      './src/main',
      './src/preload',
      './src/server',
      './src/cli',
      './src/device',
    ],
    message: 'The renderer talks to main through window.api only (ARCHITECTURE.md §1).',
  },
  {
    target: './src/server',
    from: ['./src/main', './src/renderer', './src/preload', './src/cli', './src/device'],
    message: 'src/server may import src/core and src/shared only (ARCHITECTURE.md §1).',
  },
  {
    // The CLI starts the server (`airlock server init|start`) through src/server's entry points.
    target: './src/cli',
    from: ['./src/renderer', './src/preload', './src/device'],
    message: 'src/cli runs under Node: no renderer, preload or device code (ARCHITECTURE.md §1).',
  },
  {
    target: './src/device',
    from: ['./src/main', './src/preload', './src/renderer', './src/server', './src/cli'],
    message: 'The device guard runs in the WebView: src/shared and platform-neutral src/core only.',
  },
];

const electron = {
  name: 'electron',
  message:
    'Only the Electron wiring in src/main and src/preload may import electron (ARCHITECTURE.md §1).',
};
const sqlite = {
  name: 'better-sqlite3',
  message: 'SQLite is for the stores only: src/main/db and src/server/store (ARCHITECTURE.md §1).',
};
/** The scale-out backends' clients (issue 15): reached through src/server/store only. */
const storeOnly = [
  'pg',
  '@aws-sdk/client-s3',
  '@aws-sdk/lib-storage',
  '@aws-sdk/s3-request-presigner',
].map((name) => ({
  name,
  message:
    'PostgreSQL and the object store are reached through src/server/store only (ARCHITECTURE.md §1).',
}));
const keytar = {
  name: '@github/keytar',
  message: 'The keychain is reached through src/main/keys/keychain.ts only (ARCHITECTURE.md §2).',
};
const http = ['node:http', 'node:https', 'node:http2', 'node:net', 'node:tls'].map((name) => ({
  name,
  message: 'Sockets belong to src/server (and the server client in src/main/server-client).',
}));
const nodeBuiltins = {
  group: ['node:*'],
  message: 'This folder runs in the browser or everywhere: no Node built-ins (ARCHITECTURE.md §1).',
};

/**
 * The boundary rules alone (no type information needed), exported so that the lint-fixture test
 * can run exactly these against fixtures that must fail.
 */
export const boundaryConfig = [
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parser: tseslint.parser },
    plugins: { 'import-x': importX, '@typescript-eslint': tseslint.plugin },
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.json'] }),
      ],
    },
    rules: { 'import-x/no-restricted-paths': ['error', { zones }] },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [electron, sqlite, keytar, ...storeOnly],
          patterns: [
            nodeBuiltins,
            {
              regex: '^(?!zod(?:/mini)?$)(?!\\.)',
              message:
                'src/shared imports zod only (ARCHITECTURE.md §1); its schemas use zod/mini so the device bundle stays small.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**', 'src/device/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electron, sqlite, keytar, ...storeOnly], patterns: [nodeBuiltins] },
      ],
    },
  },
  {
    // The sandboxed preload bundles only electron and the constants file; the rest must be types.
    files: ['src/preload/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!electron$)(?!\\.\\./shared/ipc/channels$)',
              allowTypeImports: true,
              message:
                'The sandboxed preload may import electron and ../shared/ipc/channels; everything else as `import type` (ARCHITECTURE.md rule 2).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electron, sqlite, keytar, ...http, ...storeOnly] },
      ],
    },
  },
  {
    files: ['src/server/**'],
    ignores: ['src/server/store/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron, sqlite, keytar, ...storeOnly] }],
    },
  },
  {
    files: ['src/server/store/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [electron, keytar] }] },
  },
  {
    files: ['src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electron, sqlite, keytar, ...http, ...storeOnly] },
      ],
    },
  },
  {
    // In src/main only the Electron wiring may import electron; services, stores and handlers run
    // under plain Node. SQLite only in the store, the keychain only in its one file, sockets only in
    // the server client.
    files: ['src/main/**'],
    ignores: [
      'src/main/index.ts',
      'src/main/window.ts',
      'src/main/security.ts',
      'src/main/ipc/register.ts',
      'src/main/db/**',
      'src/main/keys/keychain.ts',
      'src/main/server-client/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electron, sqlite, keytar, ...http, ...storeOnly] },
      ],
    },
  },
  {
    files: ['src/main/db/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron, keytar, ...http, ...storeOnly] }],
    },
  },
  {
    files: ['src/main/keys/keychain.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron, sqlite, ...http, ...storeOnly] }],
    },
  },
  {
    files: ['src/main/server-client/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron, sqlite, keytar, ...storeOnly] }],
    },
  },
];

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'test-results/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  ...boundaryConfig,
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
