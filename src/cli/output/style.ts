/** Terminal styling that respects NO_COLOR and non-terminal output. */
const enabled = (): boolean => !process.env.NO_COLOR && process.stdout.isTTY === true;

const wrap = (code: number) => (text: string) => (enabled() ? `\x1b[${code}m${text}\x1b[0m` : text);

export const style = { green: wrap(32), red: wrap(31), yellow: wrap(33), dim: wrap(2), bold: wrap(1) };

/** flux's progress markers: ► doing, ✔ done, ✗ failed, ◎ waiting. */
export const mark = {
  action: (text: string) => `► ${text}`,
  success: (text: string) => style.green(`✔ ${text}`),
  failure: (text: string) => style.red(`✗ ${text}`),
  waiting: (text: string) => style.yellow(`◎ ${text}`),
};
