// `npm run bench`: runs every benchmark suite in turn and prints its table. Pass names to run a subset:
//   npm run bench -- core store
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const suites = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()
  .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)));

for (const file of suites) {
  console.log(`\n=== ${file.replace('.bench.ts', '')} ===`);
  const suite = (await import(pathToFileURL(join(here, file)).href)) as { run: () => Promise<void> };
  await suite.run();
}
