import type { RendererApi } from '../../shared/api';

declare global {
  interface Window {
    readonly api: RendererApi;
  }
}
