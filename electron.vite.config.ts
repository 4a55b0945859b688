import { chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';

/**
 * Keeps `out/main/cli.js` executable (the `bin` of package.json): a rebuild writes a fresh file
 * without the bit, and `npx airlock` would answer "Permission denied".
 */
function executableCli(): Plugin {
  return {
    name: 'airlock-executable-cli',
    async writeBundle(options, bundle) {
      if (options.dir !== undefined && 'cli.js' in bundle) {
        await chmod(join(options.dir, 'cli.js'), 0o755);
      }
    },
  };
}

// One build for the three Electron targets and the `airlock` CLI. The CLI is a second entry of the
// main (Node) build: it shares main's services and core, and Node runs it without Electron.
export default defineConfig({
  main: {
    plugins: [executableCli()],
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          cli: resolve(__dirname, 'src/cli/index.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        // A sandboxed preload cannot be an ES module.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
    plugins: [react()],
  },
});
