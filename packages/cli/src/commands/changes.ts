import type { Command } from 'commander';
import type { ChangeRequest, ChangeRequestStatus } from '@vexil/store';
import { addRemoteOptions, diffValues, formatDifferences, printJson, RemoteClient, table, type RemoteOptions } from './remote.js';

const STATUSES: ChangeRequestStatus[] = ['pending', 'applied', 'rejected', 'conflicting', 'withdrawn'];

const summary = (request: ChangeRequest): string =>
  request.changes.map((change) => `${change.action === 'delete' ? 'delete' : change.before ? 'update' : 'create'} ${change.key}`).join(', ');

/** A change request in full: who, where, its state and the diff of each flag it changes. */
export function formatChangeRequest(request: ChangeRequest): string {
  const lines = [
    `change request ${request.id}: ${request.status}`,
    `  environment  ${request.project}/${request.environment}`,
    `  author       ${request.author} at ${request.createdAt}`,
  ];
  if (request.reason) lines.push(`  reason       ${request.reason}`);
  if (request.reviewer) lines.push(`  reviewed by  ${request.reviewer}${request.reviewedAt ? ` at ${request.reviewedAt}` : ''}${request.reviewComment ? `: ${request.reviewComment}` : ''}`);
  if (request.appliedRevision !== undefined) lines.push(`  applied at   revision ${request.appliedRevision}`);
  if (request.conflict) lines.push(`  conflict     ${request.conflict}`);
  lines.push('  changes');
  for (const change of request.changes) {
    const action = change.action === 'delete' ? 'delete' : change.before ? 'update' : 'create';
    lines.push(`    ${action === 'create' ? '+' : action === 'delete' ? '-' : '~'} ${change.key} (${action}, written against version ${change.baseVersion})`);
    if (action === 'update') lines.push(...formatDifferences(diffValues(change.before, change.after), '        '));
  }
  return lines.join('\n') + '\n';
}

/** `vexil changes list|show|approve|reject|withdraw`: change requests of environments that require approval. */
export function registerChanges(program: Command): void {
  const changes = program
    .command('changes')
    .description('Review change requests (writes to environments that require approval): list, show, approve, reject, withdraw')
    .addHelpText(
      'after',
      `
Another person with the editor role or more approves (not the author). A request whose flags changed since it was
written is marked conflicting and never applied. Exit code 3 when the server refuses (403) or conflicts (409).

Examples:
  vexil changes list --env production --status pending --server http://127.0.0.1:1031 --admin-key $KEY
  vexil changes show 3f2a9c
  vexil changes approve 3f2a9c --comment "checked with the checkout team"
  vexil changes reject 3f2a9c --comment "wrong segment"`,
    );

  addRemoteOptions(
    changes
      .command('list')
      .description('List change requests, newest first')
      .option('--project <key>', 'only this project')
      .option('--env <key>', 'only this environment')
      .option('--status <status>', `only this status: ${STATUSES.join(', ')}`),
  ).action(async (options: RemoteOptions & { project?: string; env?: string; status?: string }) => {
    if (options.status !== undefined && !STATUSES.includes(options.status as ChangeRequestStatus))
      throw new Error(`--status "${options.status}": use ${STATUSES.join(', ')}`);
    const query = new URLSearchParams();
    if (options.project !== undefined) query.set('project', options.project);
    if (options.env !== undefined) query.set('environment', options.env);
    if (options.status !== undefined) query.set('status', options.status);
    const client = new RemoteClient(options);
    const { body } = await client.call<{ changes: ChangeRequest[] }>('GET', `/admin/v1/changes${query.size > 0 ? `?${query}` : ''}`);
    if (options.json) return printJson(body);
    if (body.changes.length === 0) {
      process.stdout.write('no change requests\n');
      return;
    }
    const rows = body.changes.map((request) => [request.id, request.status, `${request.project}/${request.environment}`, request.author, request.createdAt, summary(request)]);
    process.stdout.write(table([['ID', 'STATUS', 'ENVIRONMENT', 'AUTHOR', 'CREATED', 'CHANGES'], ...rows]));
  });

  addRemoteOptions(changes.command('show').description('Show one change request with the diff of each flag').argument('<id>', 'change request id')).action(
    async (id: string, options: RemoteOptions) => {
      const { body } = await new RemoteClient(options).call<ChangeRequest>('GET', `/admin/v1/changes/${encodeURIComponent(id)}`);
      if (options.json) return printJson(body);
      process.stdout.write(formatChangeRequest(body));
    },
  );

  const review = (verb: 'approve' | 'reject' | 'withdraw', description: string, done: string): void => {
    const command = changes.command(verb).description(description).argument('<id>', 'change request id');
    if (verb !== 'withdraw') command.option('--comment <text>', 'why, kept with the review');
    addRemoteOptions(command).action(async (id: string, options: RemoteOptions & { comment?: string }) => {
      const body = options.comment !== undefined ? { comment: options.comment } : {};
      const { body: request } = await new RemoteClient(options).call<ChangeRequest>('POST', `/admin/v1/changes/${encodeURIComponent(id)}/${verb}`, body);
      if (options.json) return printJson(request);
      const revision = request.appliedRevision !== undefined ? ` at revision ${request.appliedRevision}` : '';
      process.stdout.write(`change request ${request.id} ${done}${verb === 'approve' ? revision : ''}: ${summary(request)} in ${request.project}/${request.environment}\n`);
    });
  };
  review('approve', 'Approve a pending change request and apply it (editor or more, not its author)', 'approved and applied');
  review('reject', 'Reject a pending change request: nothing is applied', 'rejected');
  review('withdraw', 'Withdraw your own pending change request', 'withdrawn');
}
