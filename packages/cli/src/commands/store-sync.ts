import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { continueRollout, formatProblem, writeFlagFile, type FlagDefinition } from '@vexil/core';
import { openStore, canonicalJson, environmentLabel, type EnvironmentFiles, type EnvironmentRef } from '@vexil/store';
import { loadFlagFiles, parseFormat } from './files.js';
import { AdminApiStore, type StoreTarget } from './admin-api-store.js';
import { addScopeOptions, environmentApiBase, environmentFiles, environmentStore, isDefaultEnvironment, selectedEnvironment, type ScopeOptions } from './scope.js';

/** Where a store command reads and writes: `--server URL --admin-key K` (a running server's admin API), else `--store`. */
interface TargetOptions {
  store?: string;
  server?: string;
  adminKey?: string;
}

/** One store, or one server, opened once; its environments reached through it. */
interface OpenedTarget {
  environment(ref: EnvironmentRef | undefined): Promise<StoreTarget>;
}

async function withStore<T>(target: TargetOptions, run: (opened: OpenedTarget) => Promise<T>): Promise<T> {
  if (target.server !== undefined && target.store !== undefined) throw new Error('give --store or --server, not both');
  const server = target.server ?? process.env.VEXIL_SERVER;
  if (server !== undefined && target.store === undefined) {
    const adminKey = target.adminKey ?? process.env.VEXIL_ADMIN_KEY ?? '';
    // Checks the URL and key once, before any file is read against it.
    new AdminApiStore(server, adminKey);
    return run({ environment: async (ref) => new AdminApiStore(server, adminKey, environmentApiBase(ref)) });
  }
  const store = await openStore(target.store ?? process.env.VEXIL_STORE);
  try {
    return await run({ environment: (ref) => environmentStore(store, ref) });
  } finally {
    await store.close();
  }
}

export function registerStoreCommands(program: Command): void {
  const importCommand = program
    .command('import')
    .description('Write the flags of files into a store (only flags whose content differs), audited as actor "cli"')
    .argument('<files...>', 'flag files (YAML, JSON or TOML); later files override earlier ones; ENV=FILE or PROJECT/ENV=FILE writes into that environment')
    .option('--store <url>', 'store URL (env VEXIL_STORE; default sqlite:./.vexil/vexil.db, or pglite:./.vexil/data where an earlier release made it)')
    .option('--server <url>', "write through a running vexil serve's admin API instead (env VEXIL_SERVER): needed for an embedded store another process owns")
    .option('--admin-key <key>', 'admin key (editor role) of that server (env VEXIL_ADMIN_KEY)')
    .option('--reason <text>', 'why, for the audit log', 'vexil import')
    .option('--actor <name>', 'who, for the audit log', 'cli')
    .option('--format <format>', 'yaml, json or toml (default: from the file extension)')
    .option('--dry-run', 'say what would change, write nothing')
    .addHelpText(
      'after',
      `
Bare paths go to default/default, or to the environment --project/--env name. Through --server, an environment's
writes use /admin/v1/projects/P/environments/E/…; one that requires approval turns each write into a change request.

Examples:
  vexil import flags.goff.yaml --store postgres://localhost/vexil
  vexil import flags.prod.yaml --env production --server http://127.0.0.1:1031 --admin-key $KEY
  vexil import production=flags.prod.yaml checkout/staging=flags.staging.yaml --store redis://localhost:6379`,
    );
  addScopeOptions(importCommand, 'the target: write into this environment (with ENV=FILE items: import only its files)');
  importCommand.action(async (files: string[], options: TargetOptions & ScopeOptions & { reason: string; actor: string; format?: string; dryRun?: boolean }) => {
    const environments = environmentFiles(files, options);
    const loaded: Array<{ environment: EnvironmentFiles } & Omit<Awaited<ReturnType<typeof loadFlagFiles>>, 'problems'>> = [];
    for (const environment of environments) {
      const { flags, segments, problems } = await loadFlagFiles(environment.paths, parseFormat(options.format));
      const errors = problems.filter((problem) => problem.severity === 'error');
      if (errors.length > 0) {
        for (const problem of errors) process.stderr.write(formatProblem(problem) + '\n');
        throw new Error(`${errors.length} error${errors.length === 1 ? '' : 's'} in the files: nothing imported`);
      }
      loaded.push({ environment, flags, segments });
    }
    // Lines name their environment unless everything goes to default/default, as before environments.
    const named = environments.some((environment) => !isDefaultEnvironment(environment));
    await withStore(options, async (opened) => {
      const targets = [];
      for (const entry of loaded) targets.push({ ...entry, store: await opened.environment(entry.environment) }); // every environment exists before any write
      let changed = 0;
      let proposed = 0;
      for (const { environment, flags, segments, store } of targets) {
        const prefix = named ? `${environmentLabel(environment)} ` : '';
        if (!store.writable) throw new Error(`the ${store.kind} store is read-only`);
        const current = await store.list();
        const byKey = new Map(current.flags.map((stored) => [stored.key, stored]));
        if (Object.keys(segments).length > 0 && canonicalJson(segments) !== canonicalJson(current.segments)) {
          changed++;
          if (options.dryRun) process.stdout.write(`${prefix}segments: would update\n`);
          else {
            const result = await store.putSegments?.({ ...current.segments, ...segments }, { actor: options.actor, reason: options.reason });
            if (result?.changeRequest) proposed++;
            process.stdout.write(`${prefix}segments: ${result?.changeRequest ? `proposed (change request ${result.changeRequest})` : 'updated'}\n`);
          }
        }
        for (const [key, read] of Object.entries(flags)) {
          const existing = byKey.get(key);
          // A rollout under way goes on when the file's plan and baseline are unchanged (see continueRollout).
          const flag = continueRollout(read, existing?.flag);
          if (existing && canonicalJson(existing.flag) === canonicalJson(flag)) continue;
          changed++;
          const verb = existing ? 'update' : 'create';
          if (options.dryRun) {
            process.stdout.write(`${prefix}${key}: would ${verb}\n`);
            continue;
          }
          const result = await store.put(key, flag, { expectedVersion: existing?.version ?? 0, actor: options.actor, reason: options.reason });
          if (result.changeRequest) {
            proposed++;
            process.stdout.write(`${prefix}${key}: ${verb} proposed (change request ${result.changeRequest}, waiting for approval)\n`);
          } else process.stdout.write(`${prefix}${key}: ${verb}d (version ${result.version})\n`);
        }
      }
      const waiting = proposed > 0 ? `, ${proposed} waiting for approval` : '';
      process.stderr.write(`${changed} change${changed === 1 ? '' : 's'}${waiting}${options.dryRun ? ' (dry run)' : ''}\n`);
    });
  });

  const exportCommand = program
    .command('export')
    .description(
      'Print (or write) the whole flag set of a store: as one snapshot document (JSON with revision and hash, the default), or as a GO Feature Flag file (--format yaml|json|toml). Both read back with import, lint, eval and serve --flags',
    )
    .option('--store <url>', 'store URL (env VEXIL_STORE; default sqlite:./.vexil/vexil.db, or pglite:./.vexil/data where an earlier release made it)')
    .option('--server <url>', "read through a running vexil serve's admin API instead (env VEXIL_SERVER)")
    .option('--admin-key <key>', 'admin key of that server (env VEXIL_ADMIN_KEY)')
    .option('--output <file>', 'write to this file instead of standard output')
    .option('--format <format>', 'snapshot (default), or a flag file: yaml, json or toml')
    .option('--goff', 'with --format: plain GO Feature Flag (segments written into the queries; offVariation, which it does not know, left out)')
    .addHelpText(
      'after',
      `
Examples:
  vexil export --store postgres://localhost/vexil --output snapshot.json
  vexil export --server http://127.0.0.1:1031 --admin-key $KEY --project checkout --env production --format yaml`,
    );
  addScopeOptions(exportCommand, 'the flags to export');
  exportCommand.action(async (options: TargetOptions & ScopeOptions & { output?: string; format?: string; goff?: boolean }) => {
    const format = options.format === undefined || options.format === 'snapshot' ? 'snapshot' : parseFormat(options.format);
    if (format === undefined) throw new Error(`unknown format "${options.format}" (use snapshot, yaml, json or toml)`);
    if (options.goff && format === 'snapshot') throw new Error('--goff needs --format yaml, json or toml');
    const ref = selectedEnvironment(options);
    await withStore(options, async (opened) => {
      const store = await opened.environment(ref);
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
