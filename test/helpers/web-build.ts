import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A realistic web build for benchmarks, the same bytes for the same seed: half the bytes
 * incompressible (images, fonts, wasm-like blobs), half text (minified JS, CSS, HTML, JSON).
 */
export interface WebBuildSpec {
  readonly totalBytes: number;
  readonly files: number;
  readonly seed: string;
}

export interface WebBuildStats {
  readonly files: number;
  readonly bytes: number;
}

/** Deterministic pseudo-random bytes: SHA-256 in counter mode over the seed. */
class SeededStream {
  private counter = 0;
  constructor(private readonly seed: string) {}

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let offset = 0;
    while (offset < length) {
      const block = createHash('sha256').update(`${this.seed}:${this.counter++}`).digest();
      offset += block.copy(out, offset);
    }
    return out;
  }

  int(max: number): number {
    return this.bytes(4).readUInt32BE(0) % max;
  }
}

const WORDS = [
  'function',
  'return',
  'const',
  'let',
  'var',
  'this',
  'props',
  'state',
  'render',
  'useEffect',
  'useState',
  'children',
  'className',
  'onClick',
  'value',
  'length',
  'push',
  'map',
  'filter',
  'reduce',
  'Object',
  'Array',
  'Promise',
  'then',
  'catch',
  'async',
  'await',
  'export',
  'import',
  'default',
  'null',
  'undefined',
  'true',
  'false',
  'window',
  'document',
  'element',
  'style',
  'color',
  'margin',
  'padding',
  'display',
  'flex',
  'grid',
  'width',
  'height',
  'capacitor',
  'plugin',
];
const PUNCT = [
  '(',
  ')',
  '{',
  '}',
  '[',
  ']',
  ';',
  ',',
  '.',
  '=',
  '=>',
  '&&',
  '||',
  '?',
  ':',
  '+',
  '"',
  "'",
];

function textContent(rng: SeededStream, size: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  const choices = rng.bytes(Math.ceil(size / 3) + 16);
  let i = 0;
  while (length < size) {
    const c = choices[i++ % choices.length] as number;
    const word =
      c % 3 === 0 ? (PUNCT[c % PUNCT.length] as string) : (WORDS[c % WORDS.length] as string);
    // Sprinkle identifiers with numbers so the text is not trivially repetitive.
    const token =
      c % 7 === 0 ? `${word}${(choices[(i * 7) % choices.length] as number) % 97}` : word;
    parts.push(token);
    length += token.length;
  }
  return Buffer.from(parts.join('').slice(0, size));
}

/** Writes the tree under `root` (which must not exist or be empty). */
export function generateWebBuild(root: string, spec: WebBuildSpec): WebBuildStats {
  const rng = new SeededStream(spec.seed);
  const half = Math.floor(spec.files / 2);
  const binaryBudget = Math.floor(spec.totalBytes / 2);
  const textBudget = spec.totalBytes - binaryBudget;
  let bytes = 0;
  const write = (path: string, data: Buffer): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), data);
    bytes += data.length;
  };
  write(
    'index.html',
    Buffer.from(
      '<!doctype html><html><head><script src="assets/main.js"></script></head><body><div id="app"></div></body></html>\n',
    ),
  );
  write(
    'assets/main.js',
    Buffer.from(
      'import { CapacitorUpdater } from "@capgo/capacitor-updater";\nCapacitorUpdater.notifyAppReady();\n',
    ),
  );
  const sizes = (count: number, budget: number): number[] => {
    // Varied sizes (a few large, many small) that add up to the budget.
    const weights = Array.from(
      { length: count },
      (_, k) => 1 + (rng.int(1000) / 100) ** 2 + (k % 17 === 0 ? 60 : 0),
    );
    const sum = weights.reduce((a, b) => a + b, 0);
    return weights.map((w) => Math.max(64, Math.floor((w / sum) * budget)));
  };
  const binaryExt = ['png', 'jpg', 'webp', 'woff2', 'mp3', 'wasm.bin'];
  sizes(half, binaryBudget).forEach((size, k) => {
    write(
      `assets/media/${String(k).padStart(3, '0')}.${binaryExt[k % binaryExt.length]}`,
      rng.bytes(size),
    );
  });
  const textExt = ['js', 'css', 'html', 'json', 'svg', 'map'];
  sizes(spec.files - half - 2, textBudget).forEach((size, k) => {
    const folder = k % 3 === 0 ? 'chunks' : k % 3 === 1 ? 'styles' : 'pages';
    write(
      `${folder}/${String(k).padStart(3, '0')}-${WORDS[k % WORDS.length]}.${textExt[k % textExt.length]}`,
      textContent(rng, size),
    );
  });
  return { files: spec.files, bytes };
}
