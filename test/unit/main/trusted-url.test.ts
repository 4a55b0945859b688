import { describe, expect, it } from 'vitest';
import { isInternalUrl } from '../../../src/main/trusted-url';

describe('#isInternalUrl', () => {
  describe('when packaged (no dev server)', () => {
    const app = {
      rendererFileUrl: 'file:///opt/Airlock/resources/app.asar/out/renderer/index.html',
    };

    it('accepts the renderer page, with any hash route', () => {
      expect(isInternalUrl(app.rendererFileUrl, app)).toBe(true);
      expect(isInternalUrl(`${app.rendererFileUrl}#/keys`, app)).toBe(true);
    });

    it('refuses web pages, other files and garbage', () => {
      expect(isInternalUrl('https://example.com/', app)).toBe(false);
      expect(isInternalUrl('file:///etc/passwd', app)).toBe(false);
      expect(isInternalUrl('file:///tmp/evil/out/renderer/index.html', app)).toBe(false);
      expect(isInternalUrl('not a url', app)).toBe(false);
    });
  });

  describe('when running against the dev server', () => {
    const app = { devServerUrl: 'http://localhost:5173/', rendererFileUrl: 'file:///x/index.html' };

    it('accepts the same origin only', () => {
      expect(isInternalUrl('http://localhost:5173/#/keys', app)).toBe(true);
      expect(isInternalUrl('http://localhost:5174/', app)).toBe(false);
      expect(isInternalUrl('https://localhost:5173/', app)).toBe(false);
      expect(isInternalUrl(app.rendererFileUrl, app)).toBe(false);
    });
  });
});
