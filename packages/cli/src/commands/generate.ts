import type { Command } from 'commander';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatProblem } from '@vexil/core';
import { generateFlagModule } from '../generate/typescript.js';
import { loadFlagFiles, parseFormat } from './files.js';

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('Write a TypeScript module with every flag key typed with its values, for the direct client (a wrong type or a removed flag then fails the build)')
    .requiredOption('--flags <files...>', 'flag files (YAML, JSON or TOML); a later file overrides an earlier one')
    .option('--out <file>', 'the module to write (default: standard output)')
    .option('--format <format>', 'yaml, json or toml (default: from the file extension)')
    .option('--import-from <module>', 'where FlagKey is imported from', '@vexil/openfeature')
    .action(async (options: { flags: string[]; out?: string; format?: string; importFrom: string }) => {
      const files = options.flags.flatMap((value) => value.split(',')).filter(Boolean);
      const { flags, problems } = await loadFlagFiles(files, parseFormat(options.format));
      const errors = problems.filter((problem) => problem.severity === 'error');
      if (errors.length > 0) {
        // A module missing a broken flag would compile code that then silently serves defaults: write nothing.
        for (const problem of errors) process.stderr.write(formatProblem(problem) + '\n');
        throw new Error(`not generated: ${errors.length} error${errors.length === 1 ? '' : 's'} in the flag files`);
      }
      const text = generateFlagModule(flags, { importFrom: options.importFrom, sources: files });
      if (!options.out) {
        process.stdout.write(text);
        return;
      }
      await mkdir(dirname(options.out), { recursive: true });
      const temporary = `${options.out}.${process.pid}.tmp`;
      await writeFile(temporary, text, 'utf8');
      await rename(temporary, options.out);
      process.stderr.write(`${options.out}: ${Object.keys(flags).length} flags\n`);
    });
}
