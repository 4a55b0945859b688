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
    resolve: {
      alias: [
        // Radix's Dialog, AlertDialog and modal DropdownMenu lock scroll with react-remove-scroll,
        // which injects a <style> element at run time; index.html's CSP (`style-src 'self'`)
        // refuses it. The local module has the same interface and locks scroll through the CSSOM,
        // which the policy permits (see its header).
        {
          find: /^react-remove-scroll$/,
          replacement: resolve(__dirname, 'src/renderer/src/lib/remove-scroll.tsx'),
        },
        // The same primitives hide the rest of the window with aria-hidden, which leaves it
        // focusable (axe: aria-hidden-focus); the local module makes it inert instead.
        {
          find: /^aria-hidden$/,
          replacement: resolve(__dirname, 'src/renderer/src/lib/inert-others.ts'),
        },
      ],
    },
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
    plugins: [react()],
  },
});
