import { Argument, Option, type Command } from 'commander';

interface RolloutCliOptions {
  server?: string;
  adminKey?: string;
  reason?: string;
  json?: boolean;
}

const COMMANDS = ['status', 'approve', 'pause', 'resume', 'abort', 'skip'] as const;

async function call(url: string, key: string, init: RequestInit = {}): Promise<any> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers: { 'x-api-key': key, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  } catch (error) {
    throw new Error(`cannot reach ${new URL(url).origin}: ${(error as Error).message}`);
  }
  const text = await response.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) throw new Error(`${response.status} ${body?.message ?? body?.error ?? text}`);
  return body;
}

function formatStatus(view: any): string {
  const lines = [`${view.key}: ${view.status} at ${view.percent}% (plan ${view.plan.steps.join(' → ')} → 100, every ${Math.round(view.plan.intervalMs / 1000)} s)`];
  if (view.nextCheckAt) lines.push(`  next check  ${view.nextCheckAt}`);
  if (view.controller) lines.push(`  controller  ${view.controller.holder}`);
  const state = view.state;
  if (state) {
    lines.push(`  counters    checks ${state.checks}, successful ${state.successful}, failed ${state.failed} (failureLimit ${view.plan.failureLimit}), inconclusive ${state.inconclusive}, in a row ${state.consecutiveSuccess}`);
    if (state.reason) lines.push(`  reason      ${state.reason}`);
    lines.push('  history');
    for (const entry of state.history.slice(-10)) lines.push(`    ${entry.at}  ${String(entry.percent).padStart(3)}%  ${entry.decision}`);
  }
  return lines.join('\n') + '\n';
}

export function registerRollout(program: Command): void {
  program
    .command('rollout')
    .description("Show or steer a flag's progressive rollout through a server's admin API")
    .addArgument(new Argument('<command>', COMMANDS.join(' | ')).choices(COMMANDS))
    .argument('<flag>', 'flag key')
    .addOption(new Option('--server <url>', 'the Vexil server (env VEXIL_SERVER)').default(process.env.VEXIL_SERVER ?? 'http://127.0.0.1:1031', 'http://127.0.0.1:1031'))
    .option('--admin-key <key>', 'an admin API key (env VEXIL_ADMIN_KEY)')
    .option('--reason <text>', 'why, for the audit log (commands other than status)')
    .option('--json', 'print the API answer as JSON')
    .addHelpText(
      'after',
      `
Examples:
  vexil rollout status new-checkout --server http://127.0.0.1:1031 --admin-key $KEY
  vexil rollout approve new-checkout --reason "dashboards look fine" --admin-key $KEY
  vexil rollout abort new-checkout --admin-key $KEY`,
    )
    .action(async (command: (typeof COMMANDS)[number], flag: string, options: RolloutCliOptions) => {
      const key = options.adminKey ?? process.env.VEXIL_ADMIN_KEY;
      if (!key) throw new Error('give an admin key: --admin-key or VEXIL_ADMIN_KEY');
      const base = `${options.server!.replace(/\/+$/, '')}/admin/v1/flags/${encodeURIComponent(flag)}/rollout`;
      if (command === 'status') {
        const view = await call(base, key);
        process.stdout.write(options.json ? JSON.stringify(view) + '\n' : formatStatus(view));
        return;
      }
      const result = await call(`${base}/${command}`, key, { method: 'POST', body: JSON.stringify(options.reason ? { reason: options.reason } : {}) });
      process.stdout.write(options.json ? JSON.stringify(result) + '\n' : `${flag}: ${result.reason} (now ${result.status} at ${result.percent}%)\n`);
    });
}
