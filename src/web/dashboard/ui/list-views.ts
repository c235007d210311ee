import { act, keyOf, type ObjectSummary } from './api.ts';
import { ago, badge, h, shortRevision } from './dom.ts';
import { byStateThenName, objectHref, states, type ObjectState } from './state.ts';
import { VirtualList, type Column } from './virtual-list.ts';

/** A mounted view: its element, keyboard handling and teardown. */
export interface View {
  element: HTMLElement;
  key?(event: KeyboardEvent): boolean;
  dispose?(): void;
}

export type Notify = (text: string, error?: boolean) => void;

function columns(items: ObjectSummary[], withKind: boolean): Column<ObjectSummary>[] {
  const cols: Column<ObjectSummary>[] = [];
  if (withKind) cols.push({ title: 'Kind', width: '130px', render: (o) => o.kind });
  cols.push(
    {
      title: 'Name',
      width: 'minmax(160px, 1.4fr)',
      render: (o) => h('span', {}, h('span', { class: 'muted' }, `${o.namespace}/`), o.name),
    },
    {
      title: 'State',
      width: '110px',
      render: (o) =>
        o.rolledBack ? h('span', {}, badge(o.state), ' ', badge('suspended', '↶')) : badge(o.state),
    },
    {
      title: 'Revision',
      width: 'minmax(140px, 1.2fr)',
      render: (o) => h('span', { class: 'mono', title: o.revision }, shortRevision(o.revision)),
    },
    {
      title: 'Updated',
      width: '80px',
      render: (o) => h('span', { class: 'muted', title: o.lastUpdate }, ago(o.lastUpdate)),
    },
  );
  if (items.some((o) => o.url))
    cols.push({
      title: 'URL',
      width: 'minmax(120px, 1fr)',
      render: (o) => h('span', { class: 'mono', title: o.url ?? '' }, o.url ?? ''),
    });
  if (items.some((o) => o.source))
    cols.push({ title: 'Source', width: 'minmax(120px, 1fr)', render: (o) => o.source ?? '' });
  cols.push({
    title: 'Message',
    width: 'minmax(160px, 2fr)',
    render: (o) =>
      h('span', { class: o.state === 'failed' ? 'msg-failed' : 'muted', title: o.message }, o.message),
  });
  return cols;
}

/** Keys shared by every list: j/k or arrows move, Enter opens, r reconciles, s suspends or resumes. */
function listKeys(list: VirtualList<ObjectSummary>, event: KeyboardEvent, notify: Notify): boolean {
  if (event.key === 'ArrowDown' || event.key === 'j') list.move(1);
  else if (event.key === 'ArrowUp' || event.key === 'k') list.move(-1);
  else if (event.key === 'PageDown') list.move(15);
  else if (event.key === 'PageUp') list.move(-15);
  else if (event.key === 'Enter' || event.key === 'o') list.open();
  else if (event.key === 'r' || event.key === 's') {
    const o = list.current();
    if (!o) return true;
    const action = event.key === 'r' ? 'reconcile' : o.suspended ? 'resume' : 'suspend';
    act(action, o).then(
      () => notify(`${action} ${o.kind} ${o.name}: requested`),
      (e: unknown) => notify(String(e instanceof Error ? e.message : e), true),
    );
  } else return false;
  return true;
}

/** Counts by state per kind, then everything not Ready, failing first. */
export function overviewView(state: ObjectState, notify: Notify): View {
  const cards = h('div', { class: 'cards' });
  const attention = new VirtualList<ObjectSummary>(
    columns([], true),
    keyOf,
    (o) => (location.hash = objectHref(o)),
    { short: true, empty: 'Everything is Ready.' },
  );
  const title = h('h2', {}, 'Needs attention');
  const element = h('div', {}, h('h1', {}, 'Overview'), cards, title, attention.element);
  const update = (): void => {
    cards.replaceChildren(
      ...state.kinds.map((kind) => {
        const of = state.ofKind(kind);
        const counts = states
          .map((s) => [s, of.filter((o) => o.state === s).length] as const)
          .filter(([, n]) => n > 0);
        return h(
          'div',
          { class: 'card panel', 'data-kind': kind },
          h(
            'h3',
            {},
            h('a', { href: `#/kind/${kind}` }, kind),
            h('span', { class: 'muted' }, ` ${of.length}`),
          ),
          h(
            'div',
            { class: 'states' },
            ...(counts.length
              ? counts.map(([s, n]) => h('a', { href: `#/kind/${kind}?state=${s}` }, badge(s, `${n} ${s}`)))
              : [h('span', { class: 'muted' }, 'none')]),
          ),
        );
      }),
    );
    const needs = [...state.objects.values()].filter((o) => o.state !== 'ready').sort(byStateThenName);
    title.textContent = `Needs attention (${needs.length})`;
    attention.setItems(needs);
  };
  update();
  const off = state.onChange(update);
  return { element, key: (e) => listKeys(attention, e, notify), dispose: off };
}

/** Every object of one kind, filterable, failing first. */
export function kindView(
  state: ObjectState,
  kind: string,
  initialState: string | null,
  notify: Notify,
): View {
  const filter = h('input', {
    type: 'search',
    placeholder: `filter ${kind} objects by name, namespace, revision, message`,
    'aria-label': 'filter',
  });
  const select = h(
    'select',
    { 'aria-label': 'state' },
    h('option', { value: '' }, 'any state'),
    ...states.map((s) => h('option', { value: s }, s)),
  );
  if (initialState) select.value = initialState;
  let list = new VirtualList<ObjectSummary>(
    columns(state.ofKind(kind), false),
    keyOf,
    (o) => (location.hash = objectHref(o)),
    { empty: `No ${kind} matches.` },
  );
  const holder = h('div', {}, list.element);
  const count = h('span', { class: 'muted' });
  const element = h(
    'div',
    {},
    h('h1', {}, kind, count),
    h(
      'div',
      { class: 'toolbar' },
      filter,
      select,
      h(
        'span',
        { class: 'hint' },
        h('kbd', {}, '/'),
        ' filter · ',
        h('kbd', {}, 'j'),
        h('kbd', {}, 'k'),
        ' move · ',
        h('kbd', {}, '↵'),
        ' open · ',
        h('kbd', {}, 'r'),
        ' reconcile · ',
        h('kbd', {}, 's'),
        ' suspend/resume',
      ),
    ),
    holder,
  );
  let shape = '';
  const update = (): void => {
    const all = state.ofKind(kind);
    // Columns depend on what the objects have (URL, source): rebuild the list only when that changes.
    const nextShape = `${all.some((o) => o.url)}${all.some((o) => o.source)}`;
    if (nextShape !== shape) {
      shape = nextShape;
      list = new VirtualList<ObjectSummary>(
        columns(all, false),
        keyOf,
        (o) => (location.hash = objectHref(o)),
        { empty: `No ${kind} matches.` },
      );
      holder.replaceChildren(list.element);
    }
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const items = all
      .filter((o) => !select.value || o.state === select.value)
      .filter((o) =>
        words.every((w) => `${o.namespace}/${o.name} ${o.revision} ${o.message}`.toLowerCase().includes(w)),
      )
      .sort(byStateThenName);
    count.textContent = ` ${items.length}${items.length !== all.length ? ` of ${all.length}` : ''}`;
    list.setItems(items);
  };
  filter.addEventListener('input', update);
  select.addEventListener('change', update);
  update();
  const off = state.onChange(update);
  return {
    element,
    key: (e) => {
      if (e.key === '/') {
        filter.focus();
        return true;
      }
      return listKeys(list, e, notify);
    },
    dispose: off,
  };
}

/** Every object with `dependsOn` or dependents, in columns by depth: what must be Ready before what. */
export function graphView(state: ObjectState): View {
  const body = h('div', { class: 'graph panel' });
  const element = h(
    'div',
    {},
    h('h1', {}, 'Dependencies'),
    h('p', { class: 'muted' }, 'Each column depends on columns to its left (spec.dependsOn).'),
    body,
  );
  const update = (): void => {
    const levels = dependencyLevels([...state.objects.values()]);
    body.replaceChildren(
      ...(levels.length
        ? levels.map((level, i) =>
            h(
              'div',
              { class: 'level' },
              h('div', { class: 'level-title' }, i === 0 ? 'no dependencies' : `depth ${i}`),
              ...level.map((o) => graphNode(o)),
            ),
          )
        : [h('div', { class: 'empty' }, 'No object declares dependsOn.')]),
    );
  };
  update();
  return { element, dispose: state.onChange(update) };
}

export function graphNode(o: ObjectSummary, self = false): HTMLElement {
  return h(
    'a',
    { class: `node s-${o.state}${self ? ' self' : ''}`, href: objectHref(o), title: o.message },
    h('div', {}, o.name),
    h('div', { class: 'muted' }, `${o.kind} · ${o.namespace}`),
  );
}

/** Objects in dependency relations, grouped by the length of their longest dependsOn chain (cycles cut). */
export function dependencyLevels(all: ObjectSummary[]): ObjectSummary[][] {
  const byKey = new Map(all.map((o) => [`${o.kind}/${o.namespace}/${o.name}`, o]));
  const dep = (o: ObjectSummary, d: string) => byKey.get(`${o.kind}/${d}`);
  const involved = new Set<ObjectSummary>();
  for (const o of all) {
    for (const d of o.dependsOn) {
      involved.add(o);
      const target = dep(o, d);
      if (target) involved.add(target);
    }
  }
  const depth = new Map<ObjectSummary, number>();
  const walk = (o: ObjectSummary, seen: Set<ObjectSummary>): number => {
    const known = depth.get(o);
    if (known !== undefined) return known;
    if (seen.has(o)) return 0;
    seen.add(o);
    let d = 0;
    for (const name of o.dependsOn) {
      const target = dep(o, name);
      d = Math.max(d, target ? walk(target, seen) + 1 : 1);
    }
    depth.set(o, d);
    return d;
  };
  const levels: ObjectSummary[][] = [];
  for (const o of [...involved].sort((a, b) => a.name.localeCompare(b.name))) {
    const d = walk(o, new Set());
    (levels[d] ??= []).push(o);
  }
  return levels.filter(Boolean);
}
