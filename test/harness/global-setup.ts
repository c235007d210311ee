/** Vitest global setup: starts shared test infrastructure once per run. */
export default function setup(): void {}
