import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the end-to-end tests save their screenshots: the README's `docs/screenshots/` only when asked
 * (`npm run screenshots`, or `VEXIL_SCREENSHOTS=1`), so that `npm test` leaves the repository as it found it.
 */
export const SHOTS =
  process.env.VEXIL_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../../docs/screenshots', import.meta.url)) : join(tmpdir(), 'vexil-screenshots');
