// The allow-list every model-produced fragment passes before it touches the DOM. A dedicated DOMPurify instance (its
// hooks and config affect nothing else in the page), returning a DocumentFragment so the sanitised tree is inserted
// as is and never serialised and re-parsed (no mutation-XSS window).
import createDOMPurify from 'dompurify';

const ALLOWED_TAGS = [
  'a', 'abbr', 'b', 'blockquote', 'br', 'code', 'dd', 'del', 'details', 'dl', 'dt', 'em', 'h1', 'h2', 'h3', 'h4',
  'h5', 'h6', 'hr', 'i', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 's', 'samp', 'small', 'span', 'strong', 'sub',
  'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul', 'var',
];
const ALLOWED_ATTR = ['href', 'title', 'start', 'align', 'colspan', 'rowspan', 'open', 'class'];

/** Link schemes kept on `<a href>`; anything else (javascript:, data:, vbscript:, relative, …) loses its href. */
const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

export function safeHref(href: string): string | undefined {
  let url: URL;
  try {
    url = new URL(href.trim());
  } catch {
    return undefined; // relative or malformed: nothing to resolve it against in the webview
  }
  return SAFE_SCHEMES.has(url.protocol) ? url.href : undefined;
}

/** Class names we emit ourselves: `hljs`/`language-x` on code, highlight.js token classes on spans. */
function allowedClasses(tag: string, value: string): string {
  const keep: string[] = [];
  for (const c of value.split(/\s+/)) {
    if (!c) continue;
    if (tag === 'code' && (c === 'hljs' || /^language-[\w+#.-]{1,40}$/.test(c))) keep.push(c);
    else if (tag === 'span' && (/^hljs-[a-z][a-z_-]{0,30}$/.test(c) || /^[a-z]{1,20}_{1,2}$/.test(c))) keep.push(c);
  }
  return keep.join(' ');
}

const purify = createDOMPurify(window);
purify.setConfig({
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  // DOMPurify's default URI check stays (it also applies to plain attributes such as align); href is narrowed to
  // http(s)/mailto by the hook below.
  RETURN_DOM_FRAGMENT: true,
});
purify.addHook('uponSanitizeAttribute', (node, data) => {
  if (data.attrName === 'class') {
    const kept = allowedClasses(node.nodeName.toLowerCase(), data.attrValue);
    if (kept) data.attrValue = kept;
    else data.keepAttr = false;
  } else if (data.attrName === 'href' && node.nodeName !== 'A') {
    data.keepAttr = false;
  }
});
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName !== 'A') return;
  const a = node as HTMLAnchorElement;
  const raw = a.getAttribute('href');
  const href = raw === null ? undefined : safeHref(raw);
  if (href === undefined) {
    a.removeAttribute('href');
    a.removeAttribute('rel');
  } else {
    a.setAttribute('href', href);
    a.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Sanitises an HTML string into a fragment of the current document. */
export function sanitize(html: string): DocumentFragment {
  // null when the parsed document has no body (a <frameset> document): nothing to show then.
  const out = purify.sanitize(html) as unknown as DocumentFragment | null;
  return out ?? document.createDocumentFragment();
}
