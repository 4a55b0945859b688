import { useId, useRef, useState } from 'react';
import { readPickedFile } from '../lib/files';

/**
 * A button that opens the system file picker and hands over the chosen file's text. The input is
 * a real `<input type=file>` (labelled, reachable by keyboard and by Playwright's setInputFiles).
 */
export function FilePicker(props: {
  label: string;
  accept?: string;
  disabled?: boolean;
  onText: (text: string, fileName: string) => void;
}): React.JSX.Element {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <span className="file-picker">
      <label htmlFor={id} className="button">
        {props.label}
      </label>
      <input
        id={id}
        ref={input}
        type="file"
        className="visually-hidden"
        accept={props.accept ?? '.json,application/json'}
        disabled={props.disabled}
        onChange={(event) => {
          const file = event.currentTarget.files?.[0];
          event.currentTarget.value = '';
          if (file === undefined) return;
          setProblem(null);
          readPickedFile(file).then(
            (text) => props.onText(text, file.name),
            (cause: unknown) => setProblem(cause instanceof Error ? cause.message : String(cause)),
          );
        }}
      />
      {problem !== null && (
        <span className="field-error" role="alert">
          {problem}
        </span>
      )}
    </span>
  );
}
