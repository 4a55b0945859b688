import { inertOthers, supportsInert, suppressOthers } from 'aria-hidden/dist/es2015/index.js';

/**
 * Stands in for the `aria-hidden` package inside the Radix primitives (electron.vite.config.ts
 * aliases the bare name to this file): its own `suppressOthers` under the name Radix imports.
 *
 * Why: a modal Dialog, AlertDialog or DropdownMenu hides the rest of the window with
 * `aria-hidden="true"` (`hideOthers`), which leaves the sidebar and the screen focusable while
 * hidden from assistive technology; axe-core reports that as `aria-hidden-focus` (serious), and
 * WAI-ARIA says aria-hidden must not hide focusable content. `inert` (HTML, supported by Chromium)
 * takes the outside out of both the focus order and the accessibility tree, as the platform's
 * modal `<dialog>` does; `suppressOthers` uses it wherever it is supported.
 */
export const hideOthers = suppressOthers;
export { inertOthers, supportsInert, suppressOthers };
