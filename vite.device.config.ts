import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * `airlock/device` (ARCHITECTURE.md §11): the device guard as one ESM file for the app's WebView, built to
 * out/device. The guard must stay browser-safe, so a Node built-in reaching its import graph fails
 * the build instead of being shimmed.
 */
function refuseNodeBuiltins(): Plugin {
  const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
  return {
    name: 'airlock-refuse-node-builtins',
    enforce: 'pre',
    resolveId(source, importer) {
      if (builtins.has(source)) {
        throw new Error(
          `${importer ?? 'the device guard'} imports ${source}: src/device must be browser-safe.`,
        );
      }
      return null;
    },
  };
}

export default defineConfig({
  plugins: [refuseNodeBuiltins()],
  build: {
    outDir: 'out/device',
    emptyOutDir: false,
    target: 'es2022',
    minify: true,
    sourcemap: true,
    lib: {
      entry: resolve(__dirname, 'src/device/index.ts'),
      formats: ['es'],
      fileName: () => 'index.js',
    },
  },
});
