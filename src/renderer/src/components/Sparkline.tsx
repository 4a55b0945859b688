/** One hour of outcomes. */
export interface SparkPoint {
  readonly successes: number;
  readonly failures: number;
}

const WIDTH = 96;
const HEIGHT = 24;

/**
 * A day of outcomes at a glance (issue 13: a health sparkline per channel): one bar per hour, its
 * failures drawn from the top in the failure colour with a hatch, so they are told apart by
 * pattern and position, not by colour alone; the numbers are in the label and beside it.
 */
export function Sparkline(props: {
  points: readonly SparkPoint[];
  label: string;
}): React.JSX.Element {
  const { points } = props;
  const most = Math.max(1, ...points.map((point) => point.successes + point.failures));
  const step = WIDTH / Math.max(1, points.length);
  return (
    <svg
      className="sparkline"
      role="img"
      aria-label={props.label}
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
    >
      <defs>
        <pattern id="spark-hatch" width="3" height="3" patternUnits="userSpaceOnUse">
          <rect width="3" height="3" className="spark-fail" />
          <path d="M0 3 L3 0" className="spark-hatch" />
        </pattern>
      </defs>
      <line x1="0" y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} className="spark-base" />
      {points.map((point, index) => {
        const total = point.successes + point.failures;
        const height = (total / most) * (HEIGHT - 2);
        const failed = (point.failures / most) * (HEIGHT - 2);
        const x = index * step + 0.5;
        const w = Math.max(1, step - 1);
        return (
          <g key={index}>
            <rect
              x={x}
              y={HEIGHT - height + failed}
              width={w}
              height={height - failed}
              className="spark-ok"
            />
            {point.failures > 0 && (
              <rect x={x} y={HEIGHT - height} width={w} height={failed} fill="url(#spark-hatch)" />
            )}
          </g>
        );
      })}
    </svg>
  );
}
