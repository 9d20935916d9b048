#!/usr/bin/env node
import { main } from '../main.js';

main(process.argv).catch((error: unknown) => {
  process.stderr.write(`vexil: ${error instanceof Error ? error.message : String(error)}\n`);
  // Remote commands end with 3 when the server refuses or conflicts (CliError.exitCode), else 1.
  const code = (error as { exitCode?: unknown } | null)?.exitCode;
  process.exit(typeof code === 'number' && code > 0 ? code : 1);
});
