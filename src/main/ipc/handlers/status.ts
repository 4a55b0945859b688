import { realpath } from 'node:fs/promises';
import { AirlockError } from '../../../core/errors';
import { IpcChannels as Ch } from '../../../shared/ipc/channels';
import type { KeyView } from '../../../shared/ipc/contract';
import { publicFacts, type KeyInfo } from '../../keys/key-store';
import type { HandlerTable } from '../handle';
import { messageOf, type HandlerScope } from './context';

/** Status, the folder dialog, and keys (ARCHITECTURE.md §2: public facts only). */

function keyView(key: KeyInfo): KeyView {
  return publicFacts(key);
}

export function statusHandlers(scope: HandlerScope) {
  const { services, keys, deps } = scope;
  return {
    [Ch.appStatus]: async function appStatus() {
      let keychain: { available: boolean; message: string | null } = {
        available: true,
        message: null,
      };
      const counts = { identity: 0, bundle: 0 };
      try {
        for (const key of await keys.list()) counts[key.type] += 1;
      } catch (error) {
        keychain = { available: false, message: messageOf(error) };
      }
      const servers = await Promise.all(
        services.servers().map(async (server) => {
          try {
            await scope.probeClient(server.url).getRootChain();
            return { url: server.url, reachable: true, error: null };
          } catch (error) {
            return { url: server.url, reachable: false, error: messageOf(error) };
          }
        }),
      );
      return {
        dataDir: services.home,
        platform: deps.platform ?? process.platform,
        appVersion: deps.appVersion,
        keychain,
        keys: counts,
        servers,
        online: servers.some((server) => server.reachable),
        outbox: {
          pending: services.outbox.list(['pending']).length,
          failed: services.outbox.list(['failed']).length,
        },
      };
    },

    [Ch.dialogChooseFolder]: async function chooseFolder() {
      const path = await deps.dialogs.chooseFolder({
        title: 'Choose the web build folder (the one with index.html)',
      });
      if (path === null) return { path: null };
      const real = await realpath(path).catch((error: unknown) => {
        throw new AirlockError('IO_ERROR', `Cannot open the folder ${path}.`, { cause: error });
      });
      scope.grantedFolders.add(real);
      return { path };
    },

    [Ch.keysList]: async function keysList() {
      return { keys: (await keys.list()).map(keyView) };
    },

    [Ch.keysCreate]: async function keysCreate(input) {
      const key = await keys.create(input.type, input.label);
      services.record('key.created', key.type === 'identity' ? key.keyId : 'local', {
        keyId: key.keyId,
        type: key.type,
        label: key.label,
      });
      return keyView(key);
    },

    [Ch.keysExportPublic]: async function keysExportPublic(input) {
      return { text: await keys.exportPublic(input.keyId, input.format) };
    },

    [Ch.keysBackup]: async function keysBackup(input) {
      const key = await keys.get(input.keyId);
      const envelope = await keys.backup(key.keyId, input.passphrase);
      services.record('key.backed_up', 'local', { keyId: key.keyId, type: key.type });
      return {
        fileName: `airlock-${key.type}-key-${key.keyId.slice(0, 16)}.backup.json`,
        content: `${JSON.stringify(envelope, null, 2)}\n`,
      };
    },

    [Ch.keysRestore]: async function keysRestore(input) {
      let envelope: unknown;
      try {
        envelope = JSON.parse(input.content);
      } catch {
        throw new AirlockError('BACKUP_INVALID', 'The file is not an Airlock key backup.');
      }
      const key = await keys.restore(envelope, input.passphrase);
      services.record('key.restored', 'local', { keyId: key.keyId, type: key.type });
      return keyView(key);
    },
  } satisfies Partial<HandlerTable>;
}
