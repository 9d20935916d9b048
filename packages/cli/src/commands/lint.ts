import type { Command } from 'commander';
import { detectFormat, formatProblem, parseFlagFile } from '@vexil/core';
import { parseFormat, readText } from './files.js';

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('Check flag files (YAML, JSON or TOML) and print every problem as file:line:col flag-key field: message')
    .argument('<files...>', 'flag files to check')
    .option('--format <format>', 'yaml, json or toml (default: from the file extension)')
    .option('--strict', 'exit 1 on warnings too')
    .option('--quiet', 'print errors only')
    .action(async (files: string[], options: { format?: string; strict?: boolean; quiet?: boolean }) => {
      const format = parseFormat(options.format);
      let errors = 0;
      let warnings = 0;
      let flags = 0;
      for (const file of files) {
        const parsed = parseFlagFile(await readText(file), { format: format ?? detectFormat(file), source: file });
        flags += Object.keys(parsed.flags).length + Object.keys(parsed.invalid).length;
        const sorted = [...parsed.problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
        for (const problem of sorted) {
          if (problem.severity === 'error') errors++;
          else warnings++;
          if (problem.severity === 'warning' && options.quiet) continue;
          process.stdout.write(formatProblem(problem) + '\n');
        }
      }
      const summary = `${files.length} file${files.length === 1 ? '' : 's'}, ${flags} flag${flags === 1 ? '' : 's'}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
      process.stderr.write(summary + '\n');
      if (errors > 0 || (options.strict && warnings > 0)) process.exitCode = 1;
    });
}
