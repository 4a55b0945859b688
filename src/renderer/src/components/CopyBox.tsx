import { useRef, useState } from 'react';
import { CopyLabel } from './Fingerprint';

/** Read-only text (a public key, a fingerprint) with a Copy button. */
export function CopyBox(props: { label: string; text: string }): React.JSX.Element {
  const area = useRef<HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState<'yes' | 'select' | null>(null);

  async function copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(props.text);
      setCopied('yes');
    } catch {
      // No clipboard permission: select the text so the user can copy it by hand.
      area.current?.select();
      setCopied('select');
    }
  }

  const lines = Math.min(12, props.text.split('\n').length + 1);
  return (
    <div className="copybox">
      <label className="field">
        <span>{props.label}</span>
        <textarea ref={area} readOnly rows={lines} value={props.text} spellCheck={false} />
      </label>
      <div className="row">
        <button type="button" onClick={() => void copy()}>
          <CopyLabel copied={copied === 'yes'} />
        </button>
        <span className="muted" role="status">
          {copied === 'yes' && 'Copied to the clipboard.'}
          {copied === 'select' && 'Selected: press Ctrl+C to copy.'}
        </span>
      </div>
    </div>
  );
}
