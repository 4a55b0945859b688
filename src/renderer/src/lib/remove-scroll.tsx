import { cloneElement, forwardRef, isValidElement, useEffect } from 'react';

/**
 * Stands in for the `react-remove-scroll` package inside the Radix primitives (Dialog,
 * AlertDialog, DropdownMenu when modal): electron.vite.config.ts aliases the package to this file.
 *
 * Why: the package locks the page's scroll by injecting a `<style>` element at run time
 * (`react-style-singleton`), which index.html's Content-Security-Policy (`style-src 'self'`, no
 * `'unsafe-inline'`) refuses: the lock would silently not apply and every dialog would log a
 * violation. CSP governs style *elements* and *attributes* in markup, not the CSSOM (CSP Level 3,
 * "should element's inline type behavior be blocked": the checks run for `<style>` and `style=""`
 * only), so this module locks scroll through `document.body.style`, which the policy permits.
 *
 * Same interface as the package's `RemoveScroll`: renders its child through `as` (Radix passes its
 * Slot) or with `forwardProps`, else in a `<div>`; `enabled` switches the lock. What it leaves out:
 * wheel/touch isolation of the outside (`shards`, `noIsolation`, `allowPinchZoom` are accepted and
 * ignored): a modal dialog already makes the outside inert for pointer and keyboard (Radix's
 * DismissableLayer and FocusScope), and a desktop window has no scroll chaining to stop.
 */

interface RemoveScrollProps extends React.HTMLAttributes<HTMLElement> {
  readonly enabled?: boolean;
  readonly as?: React.ElementType;
  readonly forwardProps?: boolean;
  // Accepted for the package's interface; see the header for why they do nothing here.
  readonly shards?: readonly unknown[];
  readonly allowPinchZoom?: boolean;
  readonly noIsolation?: boolean;
  readonly noRelative?: boolean;
  readonly inert?: boolean;
  readonly removeScrollBar?: boolean;
  readonly gapMode?: 'padding' | 'margin';
}

/** How many locks are held (nested dialogs), and the body's overflow before the first. */
let held = 0;
let overflowBefore = '';

function lock(): () => void {
  if (held === 0) {
    overflowBefore = document.body.style.overflow;
    document.body.style.overflow = 'hidden';
  }
  held += 1;
  return function unlock(): void {
    held -= 1;
    if (held === 0) document.body.style.overflow = overflowBefore;
  };
}

const RemoveScrollImpl = forwardRef<HTMLElement, RemoveScrollProps>(
  function RemoveScroll(props, ref) {
    const {
      children,
      enabled = true,
      as: Container = 'div',
      forwardProps = false,
      shards: _shards,
      allowPinchZoom: _allowPinchZoom,
      noIsolation: _noIsolation,
      noRelative: _noRelative,
      inert: _inert,
      removeScrollBar: _removeScrollBar,
      gapMode: _gapMode,
      ...rest
    } = props;

    useEffect(() => (enabled ? lock() : undefined), [enabled]);

    if (forwardProps && isValidElement(children)) {
      return cloneElement(children as React.ReactElement<Record<string, unknown>>, {
        ...rest,
        ref,
      });
    }
    return (
      <Container {...rest} ref={ref}>
        {children}
      </Container>
    );
  },
);

/** The package's class names for fixed elements that should not jump when the scrollbar goes. */
export const RemoveScroll = Object.assign(RemoveScrollImpl, {
  classNames: { fullWidth: 'width-before-scroll-bar', zeroRight: 'right-scroll-bar-position' },
});

export default RemoveScroll;
