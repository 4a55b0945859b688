import type { AppErrorShape } from '../../../shared/errors';

/** Plain-language hints for codes whose message alone does not say what to do next. */
const HINTS: Partial<Record<AppErrorShape['code'], string>> = {
  KEYCHAIN_UNAVAILABLE:
    'Airlock keeps private keys in the system keychain only; unlock or install one, then try again.',
  KEY_NOT_FOUND: 'Create a key on the Keys screen first.',
  INVALID_INPUT: 'Check the fields and try again.',
  IO_ERROR: 'The server could not be reached; your work waits in the outbox.',
};

/** Shows what went wrong as a sentence, with the stable code small for support. */
export function ErrorBanner(props: {
  error: AppErrorShape | null;
  onDismiss?: () => void;
  /** Replaces the generic hint for this screen's context; null shows none. */
  hint?: string | null;
}): React.JSX.Element | null {
  const { error, onDismiss } = props;
  if (error === null) return null;
  const hint = props.hint === undefined ? HINTS[error.code] : (props.hint ?? undefined);
  return (
    <div className="banner banner-error" role="alert">
      <div>
        <p className="banner-message">{error.message}</p>
        {hint !== undefined && <p className="banner-hint">{hint}</p>}
        <p className="banner-code">Code: {error.code}</p>
      </div>
      {onDismiss !== undefined && (
        <button type="button" className="button-quiet" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}
