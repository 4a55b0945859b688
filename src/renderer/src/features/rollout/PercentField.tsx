import * as Slider from '@radix-ui/react-slider';
import { useId, useState } from 'react';

/** A share of devices: more than 0, at most 100 (the statement schema's rule). */
export function validPercent(value: number): boolean {
  return Number.isFinite(value) && value > 0 && value <= 100;
}

/**
 * A rollout percent as a slider (Radix Slider: role=slider, arrow keys, Home/End, Page Up/Down)
 * and a number input beside it, kept in step. The number input carries the label; the slider is
 * named "<label> (slider)". `value` is null while the typed number is not a valid percent.
 */
export function PercentField(props: {
  label: string;
  value: number | null;
  onChange: (value: number | null) => void;
  disabled?: boolean;
}): React.JSX.Element {
  const { label, value, onChange, disabled } = props;
  const inputId = useId();
  const errorId = useId();
  // What the user is typing, until it is a valid percent again (null: show `value`).
  const [draft, setDraft] = useState<string | null>(null);
  const [lastValid, setLastValid] = useState(value ?? 100);
  const shown = value ?? lastValid;
  const text = draft ?? (value === null ? '' : String(value));
  const invalid = value === null;

  function accept(next: number): void {
    setLastValid(next);
    onChange(next);
  }

  return (
    <div className="field">
      <label className="field-label" htmlFor={inputId}>
        {label}
      </label>
      <div className="percent-field">
        <Slider.Root
          className="slider"
          min={1}
          max={100}
          step={1}
          value={[Math.min(100, Math.max(1, shown))]}
          disabled={disabled}
          onValueChange={([next]) => {
            if (next === undefined) return;
            setDraft(null);
            accept(next);
          }}
        >
          <Slider.Track className="slider-track">
            <Slider.Range className="slider-range" />
          </Slider.Track>
          <Slider.Thumb className="slider-thumb" aria-label={`${label} (slider)`} />
        </Slider.Root>
        <input
          id={inputId}
          className="percent-number"
          type="number"
          inputMode="decimal"
          min={0.01}
          max={100}
          step="any"
          value={text}
          disabled={disabled}
          aria-invalid={invalid}
          aria-describedby={invalid ? errorId : undefined}
          onChange={(event) => {
            const typed = event.target.value;
            setDraft(typed);
            const next = typed.trim() === '' ? Number.NaN : Number(typed);
            if (validPercent(next)) accept(next);
            else onChange(null);
          }}
          onBlur={() => {
            if (!invalid) setDraft(null);
          }}
        />
        <span aria-hidden="true">%</span>
      </div>
      {invalid && (
        <span id={errorId} className="input-error">
          Enter a percent greater than 0 and at most 100.
        </span>
      )}
    </div>
  );
}
