import type { Command } from 'commander';
import type { EnvironmentRecord, ProjectRecord } from '@vexil/store';
import { addRemoteOptions, CliError, environmentsPath, EXIT_REFUSED, printJson, RemoteClient, table, type RemoteOptions } from './remote.js';

interface ProjectOption {
  project?: string;
}

const row = (environment: EnvironmentRecord): string[] => [
  `${environment.project}/${environment.key}`,
  environment.name,
  environment.requireApproval ? 'requires approval' : '-',
];

/** `vexil env list|create|delete`: a server's environments, through its admin API. */
export function registerEnv(program: Command): void {
  const env = program
    .command('env')
    .description("List, create and delete a server's environments (projects × environments) through its admin API")
    .addHelpText(
      'after',
      `
Examples:
  vexil env list --server http://127.0.0.1:1031 --admin-key $KEY
  vexil env create production --require-approval --copy-from staging
  vexil env create staging --project checkout
  vexil env delete old-staging --force       also when SDK keys still serve it (they stop working)`,
    );

  addRemoteOptions(
    env
      .command('list')
      .description('List environments: of every project, or of --project')
      .option('--project <key>', 'only this project'),
  ).action(async (options: RemoteOptions & ProjectOption) => {
    const client = new RemoteClient(options);
    let environments: EnvironmentRecord[];
    let answer: unknown;
    if (options.project !== undefined) {
      const { body } = await client.call<{ environments: EnvironmentRecord[] }>('GET', environmentsPath(options.project));
      answer = body;
      environments = body.environments;
    } else {
      const { body } = await client.call<{ projects: Array<ProjectRecord & { environments: EnvironmentRecord[] }> }>('GET', '/admin/v1/projects');
      answer = body;
      environments = body.projects.flatMap((project) => project.environments);
    }
    if (options.json) return printJson(answer);
    if (environments.length === 0) {
      process.stdout.write('no environments\n');
      return;
    }
    process.stdout.write(table([['ENVIRONMENT', 'NAME', 'APPROVAL'], ...environments.map(row)]));
  });

  addRemoteOptions(
    env
      .command('create')
      .description('Create an environment (its project must exist), empty or with the flags of another environment')
      .argument('<name>', 'environment key: lower-case letters, digits and "-"')
      .option('--project <key>', 'project', 'default')
      .option('--name <text>', 'display name (default: the key)')
      .option('--require-approval', 'writes become change requests that another person approves')
      .option('--copy-from <environment>', "start with this environment's flags (same project)"),
  ).action(async (name: string, options: RemoteOptions & { project: string; name?: string; requireApproval?: boolean; copyFrom?: string }) => {
    const client = new RemoteClient(options);
    const body = {
      key: name,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.requireApproval ? { requireApproval: true } : {}),
      ...(options.copyFrom !== undefined ? { copyFrom: options.copyFrom } : {}),
    };
    const { body: created } = await client.call<EnvironmentRecord>('POST', environmentsPath(options.project), body);
    if (options.json) return printJson(created);
    const extras = [created.requireApproval ? 'requires approval' : '', options.copyFrom ? `flags copied from ${options.project}/${options.copyFrom}` : ''].filter(Boolean);
    process.stdout.write(`created environment ${created.project}/${created.key}${extras.length ? ` (${extras.join(', ')})` : ''}\n`);
  });

  addRemoteOptions(
    env
      .command('delete')
      .description('Delete an environment with its flags, audit log and change feed; refused while SDK keys serve it, unless --force')
      .argument('<name>', 'environment key')
      .option('--project <key>', 'project', 'default')
      .option('--force', 'delete even when active SDK keys serve it'),
    { json: false },
  ).action(async (name: string, options: RemoteOptions & { project: string; force?: boolean }) => {
    const client = new RemoteClient(options);
    try {
      await client.call('DELETE', `${environmentsPath(options.project, name)}${options.force ? '?force=true' : ''}`);
    } catch (error) {
      if (error instanceof CliError && error.code === 'environment_in_use') {
        const keys = ((error.body as { keys?: Array<{ id: string; name: string }> })?.keys ?? []).map((key) => `${key.name} (${key.id})`);
        throw new CliError(
          `environment ${options.project}/${name} is in use by SDK key${keys.length === 1 ? '' : 's'} ${keys.join(', ')}: revoke ${keys.length === 1 ? 'it' : 'them'}, or delete with --force`,
          EXIT_REFUSED,
          error.code,
        );
      }
      throw error;
    }
    process.stdout.write(`deleted environment ${options.project}/${name}\n`);
  });
}
