// Tiny DOM helpers. Everything is built with createElement/textContent: no HTML strings, no style attributes
// (the webview's CSP allows neither inline styles nor eval), so model or user text can never become markup here.

export interface ElProps {
  className?: string;
  text?: string;
  /** Plain attributes (aria-*, data-*, title, type …). Never `style` or `on*`. */
  attrs?: Record<string, string>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: ElProps = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

export interface ButtonOptions {
  /** 'primary' | 'secondary' (default) | 'icon' | 'link' plus any extra classes. */
  className?: string;
  /** When the visible text alone is not enough for a screen reader; should contain the visible text. */
  ariaLabel?: string;
  title?: string;
}

export function button(label: string, onClick: (ev: MouseEvent) => void, opts: ButtonOptions = {}): HTMLButtonElement {
  const b = el('button', { className: opts.className ?? 'secondary', text: label });
  b.type = 'button';
  if (opts.ariaLabel) b.setAttribute('aria-label', opts.ariaLabel);
  if (opts.title) b.title = opts.title;
  b.addEventListener('click', onClick);
  return b;
}

/** Shows or hides an element with the `hidden` attribute (which also removes it from the tab order). */
export function show(node: HTMLElement, visible: boolean): void {
  node.hidden = !visible;
}
