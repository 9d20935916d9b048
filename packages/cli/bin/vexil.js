#!/usr/bin/env node
// The `vexil` command. This file lives outside dist/ so npm can link it at install time, before the TypeScript build
// (the `prepare` script) has produced dist/.
import('../dist/bin/vexil.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist')) {
    process.stderr.write('vexil: not built yet: run `npm run build` in the repository\n');
  } else {
    process.stderr.write(`vexil: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
