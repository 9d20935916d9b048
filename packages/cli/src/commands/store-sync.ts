import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { formatProblem, writeFlagFile, type FlagDefinition } from '@vexil/core';
import { openStore, canonicalJson } from '@vexil/store';
import { loadFlagFiles, parseFormat } from './files.js';
import { AdminApiStore, type StoreTarget } from './admin-api-store.js';

/** Where a store command reads and writes: `--server URL --admin-key K` (a running server's admin API), else `--store`. */
interface TargetOptions {
  store?: string;
  server?: string;
  adminKey?: string;
}

async function withStore<T>(target: TargetOptions, run: (store: StoreTarget) => Promise<T>): Promise<T> {
  if (target.server !== undefined && target.store !== undefined) throw new Error('give --store or --server, not both');
  const server = target.server ?? process.env.VEXIL_SERVER;
  const store: StoreTarget =
    server !== undefined && target.store === undefined
      ? new AdminApiStore(server, target.adminKey ?? process.env.VEXIL_ADMIN_KEY ?? '')
      : await openStore(target.store ?? process.env.VEXIL_STORE);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

export function registerStoreCommands(program: Command): void {
  program
    .command('import')
    .description('Write the flags of files into a store (only flags whose content differs), audited as actor "cli"')
    .argument('<files...>', 'flag files (YAML, JSON or TOML); later files override earlier ones')
    .option('--store <url>', 'store URL (env VEXIL_STORE; default pglite:./.vexil/data)')
    .option('--server <url>', "write through a running vexil serve's admin API instead (env VEXIL_SERVER): needed for an embedded store another process owns")
    .option('--admin-key <key>', 'admin key (editor role) of that server (env VEXIL_ADMIN_KEY)')
    .option('--reason <text>', 'why, for the audit log', 'vexil import')
    .option('--actor <name>', 'who, for the audit log', 'cli')
    .option('--format <format>', 'yaml, json or toml (default: from the file extension)')
    .option('--dry-run', 'say what would change, write nothing')
    .action(async (files: string[], options: TargetOptions & { reason: string; actor: string; format?: string; dryRun?: boolean }) => {
      const { flags, segments, problems } = await loadFlagFiles(files, parseFormat(options.format));
      const errors = problems.filter((problem) => problem.severity === 'error');
      if (errors.length > 0) {
        for (const problem of errors) process.stderr.write(formatProblem(problem) + '\n');
        throw new Error(`${errors.length} error${errors.length === 1 ? '' : 's'} in the files: nothing imported`);
      }
      await withStore(options, async (store) => {
        if (!store.writable) throw new Error(`the ${store.kind} store is read-only`);
        const current = await store.list();
        const byKey = new Map(current.flags.map((stored) => [stored.key, stored]));
        let changed = 0;
        if (Object.keys(segments).length > 0 && canonicalJson(segments) !== canonicalJson(current.segments)) {
          changed++;
          process.stdout.write(`segments: ${options.dryRun ? 'would update' : 'updated'}\n`);
          if (!options.dryRun) await store.putSegments?.({ ...current.segments, ...segments }, { actor: options.actor, reason: options.reason });
        }
        for (const [key, flag] of Object.entries(flags)) {
          const existing = byKey.get(key);
          if (existing && canonicalJson(existing.flag) === canonicalJson(flag)) continue;
          changed++;
          const verb = existing ? 'update' : 'create';
          if (options.dryRun) {
            process.stdout.write(`${key}: would ${verb}\n`);
            continue;
          }
          const result = await store.put(key, flag, { expectedVersion: existing?.version ?? 0, actor: options.actor, reason: options.reason });
          process.stdout.write(`${key}: ${verb}d (version ${result.version})\n`);
        }
        process.stderr.write(`${changed} change${changed === 1 ? '' : 's'}${options.dryRun ? ' (dry run)' : ''}\n`);
      });
    });

  program
    .command('export')
    .description(
      'Print (or write) the whole flag set of a store: as one snapshot document (JSON with revision and hash, the default), or as a GO Feature Flag file (--format yaml|json|toml). Both read back with import, lint, eval and serve --flags',
    )
    .option('--store <url>', 'store URL (env VEXIL_STORE; default pglite:./.vexil/data)')
    .option('--server <url>', "read through a running vexil serve's admin API instead (env VEXIL_SERVER)")
    .option('--admin-key <key>', 'admin key of that server (env VEXIL_ADMIN_KEY)')
    .option('--output <file>', 'write to this file instead of standard output')
    .option('--format <format>', 'snapshot (default), or a flag file: yaml, json or toml')
    .option('--goff', 'with --format: plain GO Feature Flag (segments written into the queries; offVariation, which it does not know, left out)')
    .action(async (options: TargetOptions & { output?: string; format?: string; goff?: boolean }) => {
      const format = options.format === undefined || options.format === 'snapshot' ? 'snapshot' : parseFormat(options.format);
      if (format === undefined) throw new Error(`unknown format "${options.format}" (use snapshot, yaml, json or toml)`);
      if (options.goff && format === 'snapshot') throw new Error('--goff needs --format yaml, json or toml');
      await withStore(options, async (store) => {
        const snapshot = await store.exportSnapshot();
        let text: string;
        if (format === 'snapshot') text = JSON.stringify(snapshot, null, 2) + '\n';
        else {
          const flags: Record<string, FlagDefinition> = {};
          for (const [key, { flag }] of Object.entries(snapshot.flags)) flags[key] = flag;
          text = writeFlagFile({ flags, segments: snapshot.segments }, format, { goFeatureFlag: options.goff === true });
        }
        if (options.output) await writeFile(options.output, text);
        else process.stdout.write(text);
      });
    });
}
