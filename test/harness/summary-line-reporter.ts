import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest';

function tests(task: RunnerTask): RunnerTask[] {
  return task.type === 'suite' ? task.tasks.flatMap(tests) : [task];
}

/** Ends a run with the plain `N passed, N failed[, N skipped]` line that CI tooling reads. */
export default class SummaryLineReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = []): void {
    const all = files.flatMap((file) => file.tasks.flatMap(tests));
    const passed = all.filter((t) => t.result?.state === 'pass').length;
    const failed = all.filter((t) => t.result?.state === 'fail').length + files.filter((f) => f.result?.state === 'fail' && f.tasks.length === 0).length;
    const skipped = all.filter((t) => t.mode === 'skip' || t.mode === 'todo').length;
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  }
}
