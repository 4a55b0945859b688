// @ts-check
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** ARCHITECTURE.md §1 / ARCHITECTURE.md rule 12: the import table as machine-checked zones. */
const boundaries = [
  {
    target: './src/shared',
    from: [
      './src/core',
      './src/main',
      './src/preload',
      './src/renderer',
      './src/server',
      './src/cli',
    ],
  },
  {
    target: './src/core',
    from: ['./src/main', './src/preload', './src/renderer', './src/server', './src/cli'],
  },
  { target: './src/main', from: ['./src/renderer', './src/server', './src/cli', './src/preload'] },
  {
    target: './src/preload',
    from: ['./src/core', './src/main', './src/renderer', './src/server', './src/cli'],
  },
  {
    target: './src/renderer',
    from: ['./src/core', './src/main', './src/preload', './src/server', './src/cli'],
  },
  { target: './src/server', from: ['./src/main', './src/renderer', './src/preload', './src/cli'] },
  // The CLI starts the server (`airlock server init|start`) through src/server's entry points.
  { target: './src/cli', from: ['./src/renderer', './src/preload'] },
];

const noElectron = {
  paths: [
    {
      name: 'electron',
      message:
        'Only the Electron wiring in src/main and src/preload may import electron (ARCHITECTURE.md §1).',
    },
  ],
};
const nodeBuiltins = {
  group: ['node:*'],
  message: 'This folder runs in the browser or everywhere: no Node built-ins (ARCHITECTURE.md §1).',
};

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
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'import-x/no-restricted-paths': ['error', { zones: boundaries }],
    },
  },
  {
    files: ['src/shared/**'],
    rules: { 'no-restricted-imports': ['error', { ...noElectron, patterns: [nodeBuiltins] }] },
  },
  {
    files: ['src/renderer/**'],
    rules: { 'no-restricted-imports': ['error', { ...noElectron, patterns: [nodeBuiltins] }] },
  },
  {
    files: ['src/core/**', 'src/server/**', 'src/cli/**'],
    rules: { 'no-restricted-imports': ['error', noElectron] },
  },
  {
    // In src/main only the Electron wiring may import electron; services, stores and handlers run under plain Node.
    files: ['src/main/**'],
    ignores: [
      'src/main/index.ts',
      'src/main/window.ts',
      'src/main/security.ts',
      'src/main/ipc/register.ts',
    ],
    rules: { 'no-restricted-imports': ['error', noElectron] },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
