/** A Go-style duration (`1m30s`, `500ms`, `1h`), the format Flux manifests use for intervals and timeouts. */
export const DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a Go duration string. Throws on anything `DURATION_PATTERN` rejects. */
export function parseDuration(text: string): number {
  if (!DURATION_PATTERN.test(text)) throw new Error(`invalid duration '${text}': use e.g. 30s, 5m, 1h30m`);
  let total = 0;
  for (const match of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 0);
  }
  return Math.round(total);
}

/** A duration in Go's short form, for messages: 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${Number(s.toFixed(3))}s` : ''}` || '0s';
}
