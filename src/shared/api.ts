/** The shape of `window.api` that the preload exposes; the preload object `satisfies` it (STYLE rule 3). */
export interface RendererApi {
  readonly platform: string;
}
