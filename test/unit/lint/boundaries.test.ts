import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * Every import boundary of ARCHITECTURE.md §1 must fire (rule 12): each case lints a one-line
 * fixture, as if it were a file in the folder named, with exactly the boundary rules of
 * eslint.config.mjs, and expects that rule's error; the allowed counterpart lints clean. A zone
 * without a working resolver would pass every "must fail" case silently: these fail instead.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url));
const { boundaryConfig } = (await import(`${root}/eslint.config.mjs`)) as {
  boundaryConfig: Linter.Config[];
};
const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: boundaryConfig });

async function ruleIds(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: `${root}/${file}` });
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
}

const ZONE = 'import-x/no-restricted-paths';
const NAMED = 'no-restricted-imports';
const TYPED = '@typescript-eslint/no-restricted-imports';

const mustFail: [string, string, string, string][] = [
  // [what, file, import line, rule]
  [
    'core imports main',
    'src/core/x.ts',
    "import { createHandlers } from '../main/ipc/handlers';",
    ZONE,
  ],
  ['core imports the server', 'src/core/x.ts', "import { startServer } from '../server';", ZONE],
  ['shared imports core', 'src/shared/x.ts', "import { sha256 } from '../core';", ZONE],
  [
    'shared imports a package other than zod',
    'src/shared/x.ts',
    "import React from 'react';",
    NAMED,
  ],
  [
    'shared imports a Node built-in',
    'src/shared/x.ts',
    "import { readFileSync } from 'node:fs';",
    NAMED,
  ],
  [
    'the renderer imports main',
    'src/renderer/src/x.ts',
    "import { ConsoleServices } from '../../main/services/console';",
    ZONE,
  ],
  [
    'the renderer imports core',
    'src/renderer/src/x.ts',
    "import { sha256 } from '../../core';",
    ZONE,
  ],
  [
    'the renderer imports a Node built-in',
    'src/renderer/src/x.ts',
    "import { join } from 'node:path';",
    NAMED,
  ],
  [
    'main imports the server',
    'src/main/services/x.ts',
    "import { startServer } from '../../server';",
    ZONE,
  ],
  ['main imports the CLI', 'src/main/services/x.ts', "import { run } from '../../cli';", ZONE],
  [
    'the server imports main',
    'src/server/x.ts',
    "import { ConsoleServices } from '../main/services/console';",
    ZONE,
  ],
  [
    'the CLI imports the renderer',
    'src/cli/x.ts',
    "import { App } from '../renderer/src/App';",
    ZONE,
  ],
  ['the preload imports zod', 'src/preload/x.ts', "import { z } from 'zod';", TYPED],
  ['the preload imports core', 'src/preload/x.ts', "import { sha256 } from '../core';", ZONE],
  [
    'the preload imports a shared schema at run time',
    'src/preload/x.ts',
    "import { ChannelContract } from '../shared/ipc/contract';",
    TYPED,
  ],
  ['core imports better-sqlite3', 'src/core/x.ts', "import Database from 'better-sqlite3';", NAMED],
  ['core imports keytar', 'src/core/x.ts', "import keytar from '@github/keytar';", NAMED],
  ['core imports node:http', 'src/core/x.ts', "import { createServer } from 'node:http';", NAMED],
  ['core imports electron', 'src/core/x.ts', "import { app } from 'electron';", NAMED],
  [
    'a main service imports better-sqlite3',
    'src/main/services/x.ts',
    "import Database from 'better-sqlite3';",
    NAMED,
  ],
  [
    'a main service imports keytar',
    'src/main/services/x.ts',
    "import keytar from '@github/keytar';",
    NAMED,
  ],
  [
    'a main service imports electron',
    'src/main/services/x.ts',
    "import { app } from 'electron';",
    NAMED,
  ],
  [
    'a main service opens sockets',
    'src/main/services/x.ts',
    "import { request } from 'node:http';",
    NAMED,
  ],
  [
    'the server outside its store imports better-sqlite3',
    'src/server/routes/x.ts',
    "import Database from 'better-sqlite3';",
    NAMED,
  ],
  ['the CLI imports keytar', 'src/cli/x.ts', "import keytar from '@github/keytar';", NAMED],
  [
    'the device guard imports a Node built-in',
    'src/device/x.ts',
    "import { createHash } from 'node:crypto';",
    NAMED,
  ],
  [
    'the device guard imports the server',
    'src/device/x.ts',
    "import { startServer } from '../server';",
    ZONE,
  ],
];

const mayPass: [string, string, string][] = [
  ['core imports shared', 'src/core/x.ts', "import type { Statement } from '../shared/schemas';"],
  ['shared imports zod', 'src/shared/x.ts', "import { z } from 'zod';"],
  [
    'the preload imports electron and the channel names',
    'src/preload/x.ts',
    "import { ipcRenderer } from 'electron';\nimport { IpcChannels } from '../shared/ipc/channels';",
  ],
  [
    'the preload imports a shared type',
    'src/preload/x.ts',
    "import type { RendererApi } from '../shared/api';",
  ],
  [
    'the store imports better-sqlite3',
    'src/server/store/x.ts',
    "import Database from 'better-sqlite3';",
  ],
  [
    'the keychain imports keytar',
    'src/main/keys/keychain.ts',
    "import keytar from '@github/keytar';",
  ],
  [
    'the console database imports better-sqlite3',
    'src/main/db/x.ts',
    "import Database from 'better-sqlite3';",
  ],
  ['the CLI imports the server', 'src/cli/x.ts', "import { startServer } from '../server';"],
];

describe('the import boundaries of ARCHITECTURE.md §1', () => {
  it.each(mustFail)('refuses it when %s', async (_what, file, code, rule) => {
    expect(await ruleIds(file, code)).toContain(rule);
  });

  it.each(mayPass)('allows it when %s', async (_what, file, code) => {
    expect(await ruleIds(file, code)).toEqual([]);
  });
});
