import { act, fetchObject, keyOf, type HistoryView, type KedgeEventView, type ObjectPage } from './api.ts';
import { ago, badge, h, shortRevision } from './dom.ts';
import { dependencyLevels, graphNode, type Notify, type View } from './list-views.ts';
import type { ObjectState } from './state.ts';

const MAX_LOG_LINES = 2000;

/** One object: state, actions, conditions, dependencies, inventory tree, replicas and logs, live events, spec. */
export function objectView(
  state: ObjectState,
  ref: { kind: string; namespace: string; name: string },
  notify: Notify,
): View {
  const element = h('div', {}, h('div', { class: 'empty' }, 'loading…'));
  const key = keyOf(ref);
  let page: ObjectPage | undefined;
  let refetch: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const logs =
    ref.kind === 'App' ? h('div', { class: 'logs', 'aria-label': 'replica logs', tabindex: '0' }) : undefined;
  let logSource: EventSource | undefined;

  const load = (): void => {
    fetchObject(ref.kind, ref.namespace, ref.name).then(
      (p) => {
        if (disposed) return;
        page = p;
        render();
      },
      (e: unknown) => {
        if (!disposed)
          element.replaceChildren(h('div', { class: 'empty' }, e instanceof Error ? e.message : String(e)));
      },
    );
  };
  const run = (action: string, extra: Record<string, unknown> = {}): void => {
    act(action, ref, extra).then(
      () =>
        notify(
          `${action} ${ref.kind} ${ref.name}${typeof extra.to === 'string' ? ` to ${shortRevision(extra.to)}` : ''}: requested`,
        ),
      (e: unknown) => notify(e instanceof Error ? e.message : String(e), true),
    );
  };

  const render = (): void => {
    if (!page) return;
    const p = page;
    const parts: Array<HTMLElement | false> = [
      h(
        'h1',
        {},
        h('span', { class: 'muted' }, `${p.kind} `),
        h('span', {}, `${p.namespace}/${p.name}`),
        badge(p.state),
        h('span', { style: 'flex:1' }),
        h(
          'button',
          {
            class: 'primary',
            onclick: () => run('reconcile'),
            disabled: p.suspended,
            'data-action': 'reconcile',
            title: 'r',
          },
          'Reconcile',
        ),
        p.suspended
          ? h('button', { onclick: () => run('resume'), 'data-action': 'resume', title: 's' }, 'Resume')
          : h('button', { onclick: () => run('suspend'), 'data-action': 'suspend', title: 's' }, 'Suspend'),
        p.hold
          ? h(
              'button',
              {
                onclick: () => run('release'),
                'data-action': 'release',
                title: 'end the rollback hold: follow the source again',
              },
              'Release',
            )
          : false,
      ),
      p.message
        ? h(
            'div',
            { class: `message badge-block s-${p.state}`, 'data-testid': 'ready-message' },
            p.reason ? `${p.reason}: ${p.message}` : p.message,
          )
        : false,
      p.hold
        ? h(
            'div',
            { class: 'message s-suspended', 'data-testid': 'hold' },
            `Rolled back: held at ${p.hold.revision} while the source is at ${p.hold.sourceRevision}${p.hold.autoRelease ? ' (released when a newer revision lands)' : ''}.`,
          )
        : false,
      h('div', { class: 'grid2' }, facts(p), conditions(p)),
      dependencies(state, p),
      p.inventory.length
        ? h(
            'div',
            {},
            h('h2', {}, `Inventory (${p.inventory.length})`),
            h('div', { class: 'panel tree' }, inventoryTree(p)),
          )
        : false,
      p.replicas.length ? replicas(p) : false,
      logs ? h('div', {}, h('h2', {}, 'Logs'), logs) : false,
      p.history.length ? historySection(p, (to) => run('rollback', { to })) : false,
      h('h2', {}, 'Events'),
      h(
        'div',
        { class: 'panel', 'data-testid': 'events' },
        ...(p.events.length ? p.events.map(eventRow) : [h('div', { class: 'empty' }, 'No events yet.')]),
      ),
      h('h2', {}, 'Spec'),
      h('div', { class: 'panel' }, h('pre', { class: 'spec' }, JSON.stringify(p.spec, null, 2))),
    ];
    element.replaceChildren(...parts.filter((x): x is HTMLElement => x !== false));
  };

  load();
  const off = state.onChange((changed) => {
    if (!changed.has(key)) return;
    clearTimeout(refetch);
    refetch = setTimeout(load, 50);
  });
  const onEvent = (e: Event): void => {
    const event = JSON.parse((e as MessageEvent<string>).data) as KedgeEventView;
    if (keyOf(event.involvedObject) !== key || !page) return;
    page.events = [
      event,
      ...page.events.filter((x) => !(x.reason === event.reason && x.message === event.message)),
    ].slice(0, 50);
    render();
  };
  window.addEventListener('kedge-event', onEvent);
  if (logs) {
    logSource = new EventSource(
      `/api/logs/${encodeURIComponent(ref.namespace)}/${encodeURIComponent(ref.name)}`,
    );
    logSource.addEventListener('lines', (e) => {
      const { replica, text } = JSON.parse((e as MessageEvent<string>).data) as {
        replica: number;
        text: string;
      };
      const stick = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      for (const line of text.split('\n').filter(Boolean))
        logs.append(h('div', {}, h('span', { class: 'r' }, `[${replica}] `), line));
      while (logs.childElementCount > MAX_LOG_LINES) logs.firstElementChild?.remove();
      if (stick) logs.scrollTop = logs.scrollHeight;
    });
  }
  return {
    element,
    key: (e) => {
      if (e.key === 'r' && page && !page.suspended) run('reconcile');
      else if (e.key === 's' && page) run(page.suspended ? 'resume' : 'suspend');
      else if (e.key === 'Escape' || e.key === 'Backspace') history.back();
      else return false;
      return true;
    },
    dispose: () => {
      disposed = true;
      off();
      clearTimeout(refetch);
      window.removeEventListener('kedge-event', onEvent);
      logSource?.close();
    },
  };
}

function facts(p: ObjectPage): HTMLElement {
  const rows: Array<[string, Node | string]> = [
    ['Revision', h('span', { class: 'mono', 'data-testid': 'revision' }, p.revision || '—')],
    ['Last update', p.lastUpdate ? `${ago(p.lastUpdate)} (${p.lastUpdate})` : '—'],
  ];
  if (p.lastAttemptedRevision && p.lastAttemptedRevision !== p.revision)
    rows.push(['Last attempted', h('span', { class: 'mono' }, shortRevision(p.lastAttemptedRevision))]);
  if (p.url) rows.push(['URL', h('span', { class: 'mono' }, p.url)]);
  if (p.source) rows.push(['Source', h('a', { href: `#/object/${p.source}` }, p.source)]);
  if (p.suspended) rows.push(['Suspended', 'yes']);
  if (p.lastHandledReconcileAt) rows.push(['Last requested', ago(p.lastHandledReconcileAt)]);
  for (const [k, v] of Object.entries(p.labels)) rows.push([`label ${k}`, v]);
  return h(
    'div',
    {},
    h('h2', {}, 'Facts'),
    h('dl', { class: 'panel facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  );
}

function conditions(p: ObjectPage): HTMLElement {
  return h(
    'div',
    {},
    h('h2', {}, 'Conditions'),
    h(
      'div',
      { class: 'panel' },
      h(
        'table',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Type'),
          h('th', {}, 'Status'),
          h('th', {}, 'Reason'),
          h('th', {}, 'Message'),
          h('th', {}, 'Since'),
        ),
        ...p.conditions.map((c) =>
          h(
            'tr',
            {},
            h('td', {}, c.type),
            h('td', {}, c.status),
            h('td', {}, c.reason),
            h('td', {}, c.message),
            h('td', { class: 'muted' }, ago(c.lastTransitionTime)),
          ),
        ),
      ),
    ),
  );
}

/** What this object depends on (left) and what depends on it (right), same kind. */
function dependencies(state: ObjectState, p: ObjectPage): HTMLElement | false {
  const all = state.ofKind(p.kind);
  const self = all.find((o) => o.namespace === p.namespace && o.name === p.name);
  if (!self) return false;
  const name = (o: (typeof all)[number]): string => `${o.namespace}/${o.name}`;
  // Upstream: everything reachable through dependsOn; downstream: everything that reaches this one.
  const up = new Set([self]);
  const down = new Set([self]);
  for (let grew = true; grew;) {
    grew = false;
    const upNames = new Set([...up].flatMap((o) => o.dependsOn));
    const downNames = new Set([...down].map(name));
    for (const o of all) {
      if (!up.has(o) && upNames.has(name(o))) grew = up.add(o) !== undefined;
      if (!down.has(o) && o.dependsOn.some((d) => downNames.has(d))) grew = down.add(o) !== undefined;
    }
  }
  const members = [...new Set([...up, ...down])];
  if (members.length <= 1) return false;
  const levels = dependencyLevels(members);
  return h(
    'div',
    {},
    h('h2', {}, 'Dependencies'),
    h(
      'div',
      { class: 'graph panel' },
      ...levels.map((level) => h('div', { class: 'level' }, ...level.map((o) => graphNode(o, o === self)))),
    ),
  );
}

/** Inventory as namespace → kind → name. */
function inventoryTree(p: ObjectPage): DocumentFragment {
  const tree = new Map<string, Map<string, string[]>>();
  for (const item of p.inventory) {
    const ns = item.namespace || '(cluster)';
    const kinds = tree.get(ns) ?? new Map<string, string[]>();
    tree.set(ns, kinds);
    const kind = item.group ? `${item.kind}.${item.group}` : item.kind;
    kinds.set(kind, [...(kinds.get(kind) ?? []), item.name]);
  }
  const fragment = document.createDocumentFragment();
  for (const [ns, kinds] of [...tree].sort()) {
    fragment.append(
      h(
        'details',
        { open: true },
        h('summary', {}, ns),
        ...[...kinds]
          .sort()
          .map(([kind, names]) =>
            h(
              'details',
              { open: true },
              h('summary', {}, `${kind} (${names.length})`),
              ...names.sort().map((n) => h('div', { class: 'leaf' }, n)),
            ),
          ),
      ),
    );
  }
  return fragment;
}

function replicas(p: ObjectPage): HTMLElement {
  const rows = p.replicas as Array<{
    index: number;
    pid?: number;
    state: string;
    ready: boolean;
    restarts: number;
    revision: string;
    ports?: Record<string, number>;
  }>;
  return h(
    'div',
    {},
    h('h2', {}, `Replicas (${rows.length})`),
    h(
      'div',
      { class: 'panel' },
      h(
        'table',
        {},
        h(
          'tr',
          {},
          h('th', {}, '#'),
          h('th', {}, 'State'),
          h('th', {}, 'Ready'),
          h('th', {}, 'PID'),
          h('th', {}, 'Restarts'),
          h('th', {}, 'Ports'),
          h('th', {}, 'Revision'),
        ),
        ...rows.map((r) =>
          h(
            'tr',
            {},
            h('td', {}, String(r.index)),
            h('td', {}, r.state),
            h('td', {}, badge(r.ready ? 'ready' : 'progressing', r.ready ? 'ready' : 'not ready')),
            h('td', { class: 'mono' }, String(r.pid ?? '')),
            h('td', {}, String(r.restarts)),
            h(
              'td',
              { class: 'mono' },
              Object.entries(r.ports ?? {})
                .map(([k, v]) => `${k}:${v}`)
                .join(' '),
            ),
            h('td', { class: 'mono' }, shortRevision(r.revision)),
          ),
        ),
      ),
    ),
  );
}

function eventRow(e: KedgeEventView): HTMLElement {
  return h(
    'div',
    { class: 'event' },
    h('span', { class: 'muted', title: e.lastTimestamp }, ago(e.lastTimestamp)),
    h('span', { class: e.type === 'Warning' ? 'warn' : 'muted' }, e.type),
    h('span', {}, e.reason, e.count > 1 ? h('span', { class: 'muted' }, ` ×${e.count}`) : false),
    h('span', {}, e.message),
  );
}

/** History, newest first; a successful entry at another revision than the applied one can be rolled back to. */
function historySection(p: ObjectPage, rollbackTo: (revision: string) => void): HTMLElement {
  const applied = p.hold?.revision ?? p.revision;
  const changes = (e: HistoryView): string =>
    [
      ['+', e.changes.created.length],
      ['~', e.changes.configured.length],
      ['-', e.changes.deleted.length],
    ]
      .filter(([, n]) => n)
      .map(([sign, n]) => `${sign}${n}`)
      .join(' ');
  return h(
    'div',
    {},
    h('h2', {}, `History (${p.history.length})`),
    h(
      'div',
      { class: 'panel', 'data-testid': 'history' },
      h(
        'table',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'When'),
          h('th', {}, 'Revision'),
          h('th', {}, 'Result'),
          h('th', {}, 'Changes'),
          h('th', {}, 'Took'),
          h('th', {}, 'Message'),
          h('th', {}, ''),
        ),
        ...p.history.map((e) =>
          h(
            'tr',
            {},
            h('td', { class: 'muted', title: e.time }, ago(e.time)),
            h(
              'td',
              { class: 'mono', title: e.revision },
              shortRevision(e.revision),
              e.rolledBack ? h('span', { class: 'badge s-suspended' }, ' rollback') : false,
            ),
            h('td', {}, badge(e.result === 'Succeeded' ? 'ready' : 'failed', e.result)),
            h('td', { class: 'mono' }, changes(e)),
            h('td', { class: 'muted' }, `${(e.durationMs / 1000).toFixed(1)}s`),
            h('td', {}, e.message),
            h(
              'td',
              {},
              e.restorable && e.revision !== applied
                ? h(
                    'button',
                    {
                      'data-action': 'rollback',
                      'data-revision': e.revision,
                      onclick: () => rollbackTo(e.revision),
                    },
                    'Roll back here',
                  )
                : false,
            ),
          ),
        ),
      ),
    ),
  );
}
