import { h } from './dom.ts';

const ROW = 34;

export interface Column<T> {
  title: string;
  /** A CSS grid track, e.g. `2fr` or `120px`. */
  width: string;
  render(item: T): Node | string;
}

/**
 * A list that creates rows only for what is on screen (plus a margin), so thousands of objects scroll and
 * update without lag. Keyboard: the page moves the selection with {@link move} and opens it with {@link open}.
 */
export class VirtualList<T> {
  readonly element: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private items: T[] = [];
  private selected = 0;
  private frame = 0;

  constructor(
    private readonly columns: Column<T>[],
    private readonly keyOf: (item: T) => string,
    private readonly onOpen: (item: T) => void,
    options: { short?: boolean; empty?: string } = {},
  ) {
    const cols = columns.map((c) => c.width).join(' ');
    this.spacer = h('div', { style: 'position:relative' });
    const head = h('div', { class: 'head' }, ...columns.map((c) => h('div', { class: 'cell' }, c.title)));
    this.scroller = h(
      'div',
      {
        class: `list${options.short ? ' short' : ''}`,
        style: `--cols:${cols}`,
        role: 'listbox',
        'aria-label': 'objects',
      },
      head,
      this.spacer,
    );
    this.scroller.addEventListener('scroll', () => this.schedule());
    this.empty = h('div', { class: 'empty' }, options.empty ?? 'Nothing here.');
    this.element = h('div', { class: 'panel' }, this.scroller, this.empty);
  }

  private readonly empty: HTMLElement;

  setItems(items: T[]): void {
    const key = this.items[this.selected] ? this.keyOf(this.items[this.selected]!) : undefined;
    this.items = items;
    const again = key === undefined ? -1 : items.findIndex((i) => this.keyOf(i) === key);
    this.selected = again >= 0 ? again : Math.min(this.selected, Math.max(0, items.length - 1));
    this.schedule();
  }

  get length(): number {
    return this.items.length;
  }

  move(delta: number): void {
    if (this.items.length === 0) return;
    this.selected = Math.max(0, Math.min(this.items.length - 1, this.selected + delta));
    const top = this.selected * ROW;
    const view = this.scroller.clientHeight - ROW;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW > this.scroller.scrollTop + view) this.scroller.scrollTop = top + ROW - view;
    this.schedule();
  }

  current(): T | undefined {
    return this.items[this.selected];
  }

  open(): void {
    const item = this.current();
    if (item) this.onOpen(item);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Draws now (also used right after mounting, before the next frame). */
  render(): void {
    this.empty.hidden = this.items.length > 0;
    this.scroller.hidden = this.items.length === 0;
    this.spacer.style.height = `${this.items.length * ROW}px`;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW) - 5);
    const last = Math.min(
      this.items.length,
      first + Math.ceil((this.scroller.clientHeight || 800) / ROW) + 10,
    );
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const item = this.items[i]!;
      const index = i;
      const row = h(
        'div',
        {
          class: `row${i === this.selected ? ' sel' : ''}`,
          style: `top:${i * ROW}px`,
          role: 'option',
          'aria-selected': i === this.selected ? 'true' : 'false',
          'data-key': this.keyOf(item),
          onclick: () => {
            this.selected = index;
            this.onOpen(item);
          },
        },
        ...this.columns.map((c) => h('div', { class: 'cell' }, c.render(item))),
      );
      rows.push(row);
    }
    this.spacer.replaceChildren(...rows);
  }
}
