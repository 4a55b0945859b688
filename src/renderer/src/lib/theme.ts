import { useCallback, useEffect, useState } from 'react';

/** `system` follows prefers-color-scheme; the others override it. Stored per window profile. */
export type ThemeChoice = 'system' | 'light' | 'dark';

const STORAGE_KEY = 'airlock.theme';
const CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

function readChoice(): ThemeChoice {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    return CHOICES.find((choice) => choice === stored) ?? 'system';
  } catch {
    return 'system';
  }
}

/** The theme choice, applied as `data-theme` on <html> (styles.css reads it). */
export function useTheme(): { choice: ThemeChoice; cycle: () => void } {
  const [choice, setChoice] = useState<ThemeChoice>(readChoice);

  useEffect(() => {
    const root = document.documentElement;
    if (choice === 'system') root.removeAttribute('data-theme');
    else root.setAttribute('data-theme', choice);
    try {
      window.localStorage.setItem(STORAGE_KEY, choice);
    } catch {
      // Storage can be unavailable (private profile): the choice lasts for this session only.
    }
  }, [choice]);

  const cycle = useCallback(function cycle() {
    setChoice((current) => CHOICES[(CHOICES.indexOf(current) + 1) % CHOICES.length] ?? 'system');
  }, []);
  return { choice, cycle };
}
