/** The check's own source, shortened: what a caller that named nothing was waiting for. */
function describeCheck(check: () => unknown): string {
  const source = check.toString().replace(/\s+/g, ' ').trim();
  return source.length > 160 ? `${source.slice(0, 157)}...` : source;
}

/**
 * Polls `check` until it returns without throwing and returns something other than false/null/undefined,
 * which it resolves to (narrowed); or fails after `timeoutMs` (also when a check is still running then), naming what it waited for (`what`, else the
 * check's source), how many attempts it made, and the last error or value. Use instead of sleeps; derive
 * `timeoutMs` from what the condition waits for (an interval, a deadline, process starts: see budget.ts).
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  {
    timeoutMs = 20_000,
    intervalMs = 50,
    what,
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<Exclude<T, false | null | undefined>> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    attempts++;
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the check itself was still running at the deadline`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      const value = await Promise.race([check(), overdue]);
      if (value !== false && value !== undefined && value !== null)
        return value as Exclude<T, false | null | undefined>;
      lastError = new Error(`the check returned ${String(value)}`);
    } catch (error) {
      lastError = error;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? lastError.message : String(lastError);
      const waited = what ?? describeCheck(check);
      throw new Error(
        `timed out after ${timeoutMs} ms (${attempts} attempts in ${Date.now() - started} ms) waiting for ${waited}; last: ${detail}`,
        { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
