import type { Command } from 'commander';
import { detectFormat, formatProblem, parseFlagFile } from '@vexil/core';
import { environmentLabel } from '@vexil/store';
import { parseFormat, readText } from './files.js';
import { addScopeOptions, environmentFiles, isDefaultEnvironment, type ScopeOptions } from './scope.js';

export function registerLint(program: Command): void {
  const command = program
    .command('lint')
    .description('Check flag files (YAML, JSON or TOML) and print every problem as file:line:col flag-key field: message')
    .argument('<files...>', 'flag files to check; ENV=FILE or PROJECT/ENV=FILE for an environment\'s files (as serve --flags takes them)')
    .option('--format <format>', 'yaml, json or toml (default: from the file extension)')
    .option('--strict', 'exit 1 on warnings too')
    .option('--quiet', 'print errors only');
  addScopeOptions(command, 'the files to check: only its files (default: every environment\'s)').addHelpText(
    'after',
    `
Bare paths are default/default (or the environment --env names). When files are for several environments, each
problem line ends with [project/environment].

Examples:
  vexil lint flags.goff.yaml
  vexil lint production=flags.prod.yaml staging=flags.staging.yaml          every environment
  vexil lint production=flags.prod.yaml staging=flags.staging.yaml --env staging`,
  );
  command.action(async (files: string[], options: ScopeOptions & { format?: string; strict?: boolean; quiet?: boolean }) => {
    const format = parseFormat(options.format);
    const environments = environmentFiles(files, options, { onlyProject: true });
    // Today's output, unchanged, for files of default/default only; otherwise each line names its environment.
    const named = environments.some((environment) => !isDefaultEnvironment(environment)) || options.env !== undefined || options.project !== undefined;
    let errors = 0;
    let warnings = 0;
    let flags = 0;
    let fileCount = 0;
    for (const environment of environments) {
      const suffix = named ? ` [${environmentLabel(environment)}]` : '';
      for (const file of environment.paths) {
        fileCount++;
        const parsed = parseFlagFile(await readText(file), { format: format ?? detectFormat(file), source: file });
        flags += Object.keys(parsed.flags).length + Object.keys(parsed.invalid).length;
        const sorted = [...parsed.problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
        for (const problem of sorted) {
          if (problem.severity === 'error') errors++;
          else warnings++;
          if (problem.severity === 'warning' && options.quiet) continue;
          process.stdout.write(formatProblem(problem) + suffix + '\n');
        }
      }
    }
    const where = named ? ` in ${environments.length} environment${environments.length === 1 ? '' : 's'}` : '';
    const summary = `${fileCount} file${fileCount === 1 ? '' : 's'}${where}, ${flags} flag${flags === 1 ? '' : 's'}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
    process.stderr.write(summary + '\n');
    if (errors > 0 || (options.strict && warnings > 0)) process.exitCode = 1;
  });
}
