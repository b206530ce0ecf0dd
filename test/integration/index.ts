// The mocha runner VS Code loads inside the extension host (payload "extensionTestsPath"). It runs every
// out/test/integration/**/*.test.js with the counting reporter, which writes the counts to $KIMI_TEST_COUNTS.
// VS Code reports the outcome to the harness: resolve → exit 0, reject → exit 1.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha = require('mocha');

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

export function run(): Promise<void> {
  // out/test/integration → out/test/support/countingReporter.js
  const reporterPath = path.resolve(__dirname, '..', 'support', 'countingReporter.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const reporter = require(reporterPath) as typeof Mocha.reporters.Base;
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter });
  const grep = process.env.KIMI_TEST_GREP;
  if (grep) mocha.grep(grep);
  const files = findTests(__dirname);
  for (const f of files) mocha.addFile(f);
  return new Promise((resolve, reject) => {
    if (files.length === 0) {
      reject(new Error(`no *.test.js files under ${__dirname}`));
      return;
    }
    try {
      mocha.run((failures) => {
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else resolve();
      });
    } catch (e) {
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
