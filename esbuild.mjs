// The bundles: the extension for Node/CJS with `vscode` external — dist/extension.js (what activation loads) and
// dist/features.js (src/vscode/features.ts: what is loaded on first use, through src/vscode/lazy.ts) — the CLI,
// and the webview for the browser.
//   node esbuild.mjs               development build with source maps
//   node esbuild.mjs --production  minified, no source maps (what `npm run package` ships)
//   node esbuild.mjs --watch       rebuild on change
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  minify: production,
  sourcemap: production ? false : 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  legalComments: 'none',
};

/** lazy.ts's `require('./features.js')` stays a require: at run time it loads dist/features.js next to the
 *  bundle (a bundled copy would put everything back into dist/extension.js). */
const featuresExternal = {
  name: 'features-external',
  setup(build) {
    build.onResolve({ filter: /^\.\/features\.js$/ }, (args) => {
      if (!args.importer.endsWith(path.join('src', 'vscode', 'lazy.ts'))) return undefined;
      return { path: './features.js', external: true };
    });
  },
};

/** zodMini.ts imports zod's English messages as `zod/v4/locales/en.cjs` (TypeScript's CommonJS output needs a
 *  CommonJS file); bundled, that file would drag in a CommonJS copy of zod's core (~20 KB) next to the ESM one
 *  zod/mini uses. The ESM file is the same code. */
const zodLocaleEsm = {
  name: 'zod-locale-esm',
  setup(build) {
    build.onResolve({ filter: /^zod\/v4\/locales\/en\.cjs$/ }, () => ({ path: path.resolve('node_modules/zod/v4/locales/en.js') }));
  },
};

const node = {
  ...common,
  outdir: 'dist',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  // The openai SDK's optional AWS signing helpers are never used here.
  mainFields: ['module', 'main'],
  plugins: [featuresExternal, zodLocaleEsm],
};

/** @type {import('esbuild').BuildOptions[]} */
const builds = [
  { ...node, entryPoints: { extension: 'src/extension.ts', features: 'src/vscode/features.ts', cli: 'src/cli/main.ts' } },
  {
    ...common,
    entryPoints: { webview: 'src/webview/main.ts' },
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('[esbuild] watching for changes…');
} else {
  const started = Date.now();
  const results = await Promise.all(builds.map((b) => esbuild.build({ ...b, metafile: production })));
  if (production) writeNotices(results.map((r) => r.metafile));
  console.log(`[esbuild] ${production ? 'production' : 'development'} build in ${Date.now() - started} ms`);
}

/** dist/THIRD_PARTY_NOTICES.md: the license of every npm package whose code ended up in a shipped bundle (the
 *  bundles are minified with legalComments 'none', so the notices travel in this file inside the VSIX). */
function writeNotices(metafiles) {
  const packages = new Map();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m) packages.set(m[1], path.join('node_modules', m[1]));
    }
  }
  const sections = [];
  for (const [name, dir] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    if (!licenseFile) throw new Error(`${name} is bundled but ships no LICENSE file: add its notice by hand`);
    const text = fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim();
    sections.push(`## ${name} ${pkg.version} (${pkg.license ?? 'see below'})\n\n\`\`\`text\n${text}\n\`\`\`\n`);
  }
  const header = '# Third-party notices\n\nThe extension bundles code from these npm packages; their licenses follow.\n';
  fs.writeFileSync('dist/THIRD_PARTY_NOTICES.md', [header, ...sections].join('\n'));
  console.log(`[esbuild] notices for ${packages.size} bundled packages: ${[...packages.keys()].join(', ')}`);
}
