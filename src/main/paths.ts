import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The data directory: `AIRLOCK_HOME` when set, else the OS's per-user application-data folder
 * (the same place Electron's `app.getPath('userData')` points at for an app named Airlock).
 */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['AIRLOCK_HOME'];
  if (override !== undefined && override !== '') return override;
  switch (process.platform) {
    case 'darwin':
      return join(homedir(), 'Library', 'Application Support', 'Airlock');
    case 'win32':
      return join(env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming'), 'Airlock');
    default:
      return join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'Airlock');
  }
}
