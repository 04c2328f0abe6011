// Prints CI's closing line, `tests: N passed, N failed`, from jest's --json report. Further arguments name
// failed CI steps outside jest (e.g. typecheck); each counts as one failure.
import { readFileSync, existsSync } from 'node:fs';

const file = process.argv[2] ?? '.tmp/jest.json';
const failedSteps = process.argv.slice(3);
if (!existsSync(file)) {
  console.log(`tests: 0 passed, ${1 + failedSteps.length} failed (no jest report: the test run did not start)`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
// A suite that fails to load has no test results but must count as a failure.
const brokenSuites = r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
const failed = r.numFailedTests + brokenSuites + failedSteps.length;
for (const step of failedSteps) console.log(`FAILED STEP: ${step}`);
for (const s of r.testResults) {
  for (const t of s.assertionResults)
    if (t.status === 'failed') console.log(`FAILED: ${s.name.replace(process.cwd() + '/', '')} › ${t.fullName}`);
  if (s.status === 'failed' && s.assertionResults.length === 0)
    console.log(
      `FAILED SUITE: ${s.name.replace(process.cwd() + '/', '')}: ${(s.message || '').split('\n').slice(0, 5).join(' ')}`,
    );
}
console.log(`tests: ${r.numPassedTests} passed, ${failed} failed`);
process.exit(failed === 0 && r.success ? 0 : 1);
