/** The plugin's sources and tests type-check (strict), as the backend's do in the root test run. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

test('tsc -p plugin --noEmit reports no errors', () => {
  let out = '';
  try {
    execFileSync('npx', ['tsc', '-p', '.', '--noEmit'], { cwd: join(__dirname, '../..'), stdio: 'pipe' });
  } catch (e) {
    out = String((e as { stdout?: Buffer }).stdout ?? e);
  }
  expect(out).toBe('');
}, 180_000);
