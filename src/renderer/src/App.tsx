/**
 * The console's screens (DESIGN section 7) are built on the console services; until they land, the
 * window says plainly what works today.
 */
export function App(): React.JSX.Element {
  return (
    <main>
      <h1>Airlock</h1>
      <p>
        The desktop console is not built yet. Keys and bundles work today through the{' '}
        <code>airlock</code> command: run <code>npx airlock --help</code>.
      </p>
    </main>
  );
}
