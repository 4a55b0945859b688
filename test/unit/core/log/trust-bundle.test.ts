import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { deviceSnippets } from '../../../../src/core/log';

/** Evaluates the `plugins: { … }` block as the object literal it must be in capacitor.config.ts. */
function evaluateConfig(block: string): {
  plugins: { CapacitorUpdater: Record<string, unknown> };
} {
  return runInNewContext(`({ ${block} })`) as never;
}

describe('#deviceSnippets', () => {
  it('puts the plugin in manual mode on this server’s device endpoints and the chosen channel', () => {
    const { capacitorConfig } = deviceSnippets({
      server: 'https://updates.example.com/',
      app: 'com.example.app',
      channel: 'beta',
    });
    const plugin = evaluateConfig(capacitorConfig).plugins.CapacitorUpdater;
    expect(plugin).toMatchObject({
      autoUpdate: false,
      updateUrl: 'https://updates.example.com/updates',
      statsUrl: 'https://updates.example.com/stats',
      channelUrl: 'https://updates.example.com/channel_self',
      defaultChannel: 'beta',
    });
  });

  it('quotes what it is given, so a quote in a URL cannot end the string', () => {
    const server = "https://updates.example.com/it's\\here";
    const { capacitorConfig, appCode } = deviceSnippets({
      server,
      app: 'com.example.app',
      channel: 'production',
    });
    expect(evaluateConfig(capacitorConfig).plugins.CapacitorUpdater.updateUrl).toBe(
      `${server}/updates`,
    );
    expect(appCode).toContain(`server: 'https://updates.example.com/it\\'s\\\\here',`);
  });

  it('names the guard with the same server, app and channel, importing the trust file', () => {
    const { appCode } = deviceSnippets({
      server: 'https://updates.example.com',
      app: 'com.example.app',
      channel: 'production',
      trustFile: 'airlock/trust.json',
    });
    expect(appCode).toContain("import trust from './airlock/trust.json';");
    expect(appCode).toContain("server: 'https://updates.example.com',");
    expect(appCode).toContain("app: 'com.example.app',");
    expect(appCode).toContain("channel: 'production',");
    expect(appCode).toContain('updater: CapacitorUpdater,');
  });
});
