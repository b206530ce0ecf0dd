// Mocha reporter: the usual spec output, plus the counts written as JSON to $KIMI_TEST_COUNTS
// so scripts/test.mjs can print each tier's totals and fail a tier that ran zero tests.
import * as fs from 'node:fs';
import Mocha = require('mocha');

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, pending: 0, failures: [] as string[] };
    runner.on(EVENT_TEST_PASS, () => counts.passed++);
    runner.on(EVENT_TEST_PENDING, () => counts.pending++);
    runner.on(EVENT_TEST_FAIL, (test: Mocha.Test, err: Error) => {
      counts.failed++;
      counts.failures.push(`${test.fullTitle()}: ${err?.message ?? err}`);
    });
    runner.once(EVENT_RUN_END, () => {
      const file = process.env.KIMI_TEST_COUNTS;
      if (file) fs.writeFileSync(file, JSON.stringify(counts));
    });
  }
}

export = CountingReporter;
