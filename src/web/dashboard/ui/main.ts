import { fetchObjects, type ObjectSummary } from './api.ts';
import { h } from './dom.ts';
import { graphView, kindView, overviewView, type View } from './list-views.ts';
import { objectView } from './object-page.ts';
import { ObjectState } from './state.ts';

const state = new ObjectState();
const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const live = document.getElementById('live')!;
const toast = document.getElementById('toast')!;
let view: View | undefined;

function notify(text: string, error = false): void {
  const item = h('div', { class: error ? 'err' : '' }, text);
  toast.append(item);
  setTimeout(() => item.remove(), error ? 8000 : 3000);
}

/** Views by address: `#/`, `#/kind/Kind[?state=failed]`, `#/graph`, `#/object/Kind/ns/name`. */
function route(): void {
  view?.dispose?.();
  const [path = '', query = ''] = location.hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'kind' && parts[1])
    view = kindView(state, parts[1], new URLSearchParams(query).get('state'), notify);
  else if (parts[0] === 'object' && parts.length === 4)
    view = objectView(state, { kind: parts[1]!, namespace: parts[2]!, name: parts[3]! }, notify);
  else if (parts[0] === 'graph') view = graphView(state);
  else view = overviewView(state, notify);
  main.replaceChildren(view.element);
  renderNav();
}

function renderNav(): void {
  const current = location.hash.slice(1).split('?')[0] || '/';
  const link = (href: string, label: string, count?: number, bad?: number): HTMLElement =>
    h(
      'a',
      {
        href: `#${href}`,
        class: current === href || current.startsWith(`/object/${label}/`) ? 'active' : '',
      },
      label,
      count !== undefined
        ? h('span', { class: `count${bad ? ' bad' : ''}` }, bad ? `${bad}✗ ${count}` : String(count))
        : false,
    );
  nav.replaceChildren(
    link('/', 'Overview'),
    ...state.kinds.map((k) => {
      const of = state.ofKind(k);
      return link(`/kind/${k}`, k, of.length, of.filter((o) => o.state === 'failed').length);
    }),
    link('/graph', 'Dependencies'),
  );
}

/** Live updates: connect the stream first, then load the list, so nothing between the two is missed. */
function connect(): void {
  const stream = new EventSource('/api/stream');
  stream.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live on';
    fetchObjects().then(
      ({ kinds, objects }) => state.reset(kinds, objects),
      (e: unknown) => notify(e instanceof Error ? e.message : String(e), true),
    );
  });
  stream.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  });
  stream.addEventListener('changes', (e) => {
    const { upserts, deletes } = JSON.parse((e as MessageEvent<string>).data) as {
      upserts: ObjectSummary[];
      deletes: string[];
    };
    state.apply(upserts, deletes);
  });
  stream.addEventListener('event', (e) =>
    window.dispatchEvent(new MessageEvent('kedge-event', { data: (e as MessageEvent<string>).data })),
  );
}

let navFrame = 0;
state.onChange(() => {
  navFrame ||= requestAnimationFrame(() => {
    navFrame = 0;
    renderNav();
  });
});

document.addEventListener('keydown', (event) => {
  if (event.metaKey || event.ctrlKey || event.altKey) return;
  const target = event.target as HTMLElement;
  if (target.matches('input, select, textarea')) {
    if (event.key === 'Escape') target.blur();
    return;
  }
  if (view?.key?.(event)) return event.preventDefault();
  const digit = Number(event.key);
  if (event.key === 'g') location.hash = '#/graph';
  else if (digit === 0) location.hash = '#/';
  else if (digit >= 1 && digit <= state.kinds.length) location.hash = `#/kind/${state.kinds[digit - 1]}`;
  else return;
  event.preventDefault();
});

window.addEventListener('hashchange', route);
route();
connect();
