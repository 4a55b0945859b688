import { Check, Copy } from 'lucide-react';
import { useState } from 'react';
import { roleLabel } from '../lib/roles';

/** Copies `value` to the clipboard; `copied` says so until the next attempt fails. */
function useCopy(value: string): { copied: boolean; copy: () => void } {
  const [copied, setCopied] = useState(false);
  return {
    copied,
    copy: () => {
      navigator.clipboard.writeText(value).then(
        () => setCopied(true),
        () => setCopied(false),
      );
    },
  };
}

/** A copy button's face: the word, with its icon (hidden from assistive technology). */
export function CopyLabel(props: { copied: boolean }): React.JSX.Element {
  const Icon = props.copied ? Check : Copy;
  return (
    <>
      <Icon className="icon" aria-hidden="true" />
      {props.copied ? 'Copied' : 'Copy'}
    </>
  );
}

/**
 * The one way a key or trust root is shown (issue 13): its fingerprint grouped in fours at body
 * size, a Copy button for the full id, and, when known, the person's name and role. Names come
 * from the trust root; a key nobody named shows its fingerprint only.
 */
export function Fingerprint(props: {
  /** The fingerprint as main formats it (`abcd 1234 ef56 7890`). */
  fingerprint: string;
  /** What Copy puts on the clipboard (the full key or root id); default the fingerprint. */
  copy?: string;
  name?: string | null;
  roles?: readonly string[];
  /** Said by Copy's accessible name: "Copy fingerprint of Olga". */
  label?: string;
}): React.JSX.Element {
  const { copied, copy } = useCopy(props.copy ?? props.fingerprint);
  const who = props.label ?? props.name ?? 'this key';
  return (
    <span className="fingerprint">
      {props.name !== undefined && props.name !== null && (
        <span className="fingerprint-name">{props.name}</span>
      )}
      {props.roles?.map((role) => (
        <span key={role} className="chip">
          {roleLabel(role)}
        </span>
      ))}
      <span className="fp" title={props.copy}>
        {props.fingerprint}
      </span>
      <button
        type="button"
        className="button-small"
        aria-label={`Copy fingerprint of ${who}`}
        onClick={copy}
      >
        <CopyLabel copied={copied} />
      </button>
    </span>
  );
}

/** A long value to compare by eye with another copy (a SHA-256), with a Copy button. */
export function CopyValue(props: { value: string; label: string }): React.JSX.Element {
  const { copied, copy } = useCopy(props.value);
  return (
    <span className="copy-value">
      <span className="mono">{props.value}</span>
      <button
        type="button"
        className="button-small"
        aria-label={`Copy ${props.label}`}
        onClick={copy}
      >
        <CopyLabel copied={copied} />
      </button>
    </span>
  );
}
