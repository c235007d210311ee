/** Attributes and event handlers `h` sets on an element. */
type Props = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** Creates an element: `h('a', {href: '#/'}, 'text', child)`; `on*` props become listeners, false/undefined are skipped. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Array<Node | string | undefined | false>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = String(value);
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (key === 'style') element.style.cssText = String(value);
    else element.setAttribute(key, String(value));
  }
  for (const child of children) if (child !== undefined && child !== false) element.append(child);
  return element;
}

/** "3m ago" for an ISO time; empty for none. */
export function ago(iso: string | undefined): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return '';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

/** `main@sha1:0123456789abcdef…` shortened to `main@sha1:0123456789ab`. */
export function shortRevision(revision: string): string {
  return revision.replace(/(sha1|sha256):([0-9a-f]{12})[0-9a-f]+/, '$1:$2');
}

export function badge(state: string, label = state): HTMLElement {
  return h('span', { class: `badge s-${state}` }, label);
}
