/**
 * Wilson score interval (E. B. Wilson, 1927) for a binomial proportion: the automatic pause
 * (ARCHITECTURE.md §6) compares the *lower* bound of a release's failure rate with the channel's threshold,
 * so a handful of early failures does not pause a release, and a real spike does.
 */

/** z for a two-sided 95 % interval. */
export const Z_95 = 1.96;

/**
 * Lower bound of the Wilson score interval for `failures` out of `total` trials.
 * Returns 0 when there are no trials; inputs are clamped to 0 ≤ failures ≤ total.
 * @example wilsonLowerBound(30, 100) // ≈ 0.2189
 */
export function wilsonLowerBound(failures: number, total: number, z: number = Z_95): number {
  if (!(total > 0)) return 0;
  const f = Math.min(Math.max(failures, 0), total);
  const p = f / total;
  const z2 = z * z;
  const centre = p + z2 / (2 * total);
  const spread = z * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total));
  return Math.max(0, (centre - spread) / (1 + z2 / total));
}

export interface AutoPauseSettings {
  readonly failureThreshold: number;
  readonly minSamples: number;
}

/**
 * True when a release with these outcomes must be paused: at least `minSamples` outcomes, and the
 * Wilson lower bound of the failure rate strictly above `failureThreshold`.
 * @example shouldAutoPause({ successes: 60, failures: 40 }, { failureThreshold: 0.2, minSamples: 50 }) // true
 */
export function shouldAutoPause(
  outcomes: { readonly successes: number; readonly failures: number },
  settings: AutoPauseSettings,
): boolean {
  const total = outcomes.successes + outcomes.failures;
  if (total < settings.minSamples) return false;
  return wilsonLowerBound(outcomes.failures, total) > settings.failureThreshold;
}
