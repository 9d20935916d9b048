import type { Command } from 'commander';
import type { ChangeRequest } from '@vexil/store';
import { addRemoteOptions, CliError, confirm, environmentsPath, formatDifferences, printJson, RemoteClient, type RemoteOptions, type ValueDifference } from './remote.js';

interface PromoteOptions extends RemoteOptions {
  from: string;
  to: string;
  project: string;
  flag?: string[];
  dryRun?: boolean;
  yes?: boolean;
}

interface PromoteChange {
  key: string;
  action: 'create' | 'update' | 'delete' | 'unchanged';
  diff?: ValueDifference[];
}

interface PromoteAnswer {
  from: string;
  to: string;
  dryRun: boolean;
  applied: boolean;
  changes: PromoteChange[];
  revision?: number;
}

const MARK: Record<PromoteChange['action'], string> = { create: '+', update: '~', delete: '-', unchanged: '=' };

/** The diff of a promotion, one block per flag that changes, and a count of the unchanged ones. */
export function formatPromotion(answer: PromoteAnswer, project: string): string {
  const lines = [`${project}/${answer.from} → ${project}/${answer.to}:`];
  const changing = answer.changes.filter((change) => change.action !== 'unchanged');
  for (const change of changing) {
    lines.push(`  ${MARK[change.action]} ${change.key} (${change.action})`);
    if (change.action === 'update') lines.push(...formatDifferences(change.diff ?? []));
  }
  const unchanged = answer.changes.length - changing.length;
  lines.push(`${changing.length} flag${changing.length === 1 ? '' : 's'} to change${unchanged > 0 ? `, ${unchanged} unchanged` : ''}`);
  return lines.join('\n') + '\n';
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((item) => item.trim()).filter(Boolean)];

/** `vexil promote --from A --to B`: shows what would change, then copies the serving configuration as one change. */
export function registerPromote(program: Command): void {
  addRemoteOptions(
    program
      .command('promote')
      .description("Copy flags' serving configuration from one environment to another (one audited change), showing the diff first")
      .requiredOption('--from <environment>', 'source environment')
      .requiredOption('--to <environment>', 'target environment')
      .option('--project <key>', 'project of both environments', 'default')
      .option('--flag <key>', 'only this flag; repeatable or comma separated (default: every flag of the source)', collect)
      .option('--dry-run', 'show the diff, change nothing')
      .option('--yes', 'apply without asking (needed when standard input is not a terminal)')
      .addHelpText(
        'after',
        `
The diff is shown first; then the promotion applies after a yes (or with --yes). When the target environment
requires approval, the promotion becomes a change request: its id is printed (vexil changes approve ID).
Exit code 3 when the server refuses (403) or the target changed meanwhile (409).

Examples:
  vexil promote --from staging --to production --dry-run --server http://127.0.0.1:1031 --admin-key $KEY
  vexil promote --from staging --to production --flag new-checkout --yes
  vexil promote --project checkout --from development --to staging --yes`,
      ),
  ).action(async (options: PromoteOptions) => {
    const client = new RemoteClient(options);
    const path = `${environmentsPath(options.project, options.to)}/promote`;
    const request = { from: options.from, ...(options.flag && options.flag.length > 0 ? { flags: options.flag } : {}) };
    const { body: preview } = await client.call<PromoteAnswer>('POST', path, { ...request, dryRun: true });
    if (options.dryRun) {
      if (options.json) return printJson(preview);
      process.stdout.write(formatPromotion(preview, options.project) + '(dry run: nothing changed)\n');
      return;
    }
    if (!options.json) process.stdout.write(formatPromotion(preview, options.project));
    if (preview.changes.every((change) => change.action === 'unchanged')) {
      if (options.json) printJson(preview);
      else process.stdout.write('nothing to promote\n');
      return;
    }
    if (!options.yes) {
      const target = `${options.project}/${options.to}`;
      if (!process.stdin.isTTY) throw new CliError(`not applied: add --yes to promote into ${target} without a terminal (or --dry-run to only look)`);
      if (!(await confirm(`promote into ${target}?`))) throw new CliError('not applied');
    }
    const { status, body } = await client.call<PromoteAnswer & { changeRequest?: ChangeRequest }>('POST', path, request);
    if (options.json) return printJson(body);
    if (status === 202 && body.changeRequest) {
      process.stdout.write(
        `${options.project}/${options.to} requires approval: change request ${body.changeRequest.id} created (vexil changes show ${body.changeRequest.id})\n`,
      );
      return;
    }
    const applied = body.changes.filter((change) => change.action !== 'unchanged').length;
    process.stdout.write(`promoted ${applied} flag${applied === 1 ? '' : 's'} into ${options.project}/${options.to}${body.revision !== undefined ? ` (revision ${body.revision})` : ''}\n`);
  });
}
