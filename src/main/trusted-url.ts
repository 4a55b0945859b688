/**
 * The one place that decides whether a URL belongs to the app (ARCHITECTURE.md rule 1, after Actual's
 * `trusted-url.ts`). Everything else (navigation, new windows, redirects) is denied.
 *
 * `app` is either the dev server's URL (development) or the file URL of the packaged renderer page.
 * A URL is internal when it has the dev server's origin, or is exactly the renderer page (any
 * hash or query, since the UI routes with the hash).
 */
export function isInternalUrl(
  url: string,
  app: { devServerUrl?: string; rendererFileUrl: string },
): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (app.devServerUrl !== undefined) {
    try {
      return parsed.origin === new URL(app.devServerUrl).origin;
    } catch {
      return false;
    }
  }
  let renderer: URL;
  try {
    renderer = new URL(app.rendererFileUrl);
  } catch {
    return false;
  }
  return (
    parsed.protocol === 'file:' &&
    parsed.host === renderer.host &&
    parsed.pathname === renderer.pathname
  );
}
