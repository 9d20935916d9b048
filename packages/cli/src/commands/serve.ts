import { Command, Option } from 'commander';
import { resolveServeConfig, startOptionsFromConfig, startServer, type ServeCliOptions } from '@vexil/server';

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((item) => item.trim()).filter(Boolean)];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve flags over OFREP, the GO Feature Flag relay API, the SSE stream and the admin API, with the admin page at /')
    .option('--store <url>', 'sqlite:<file> | sqlite:memory: | pglite:<dir> | pglite:memory: | postgres://… | redis://… | dynamodb://TABLE?region=… | file:<path>[,<path>…] (env VEXIL_STORE; default sqlite:./.vexil/vexil.db, or pglite:./.vexil/data where an earlier release made it)')
    .option('--flags <files...>', 'flag files: served read-only when no --store is given (GitOps), imported at start into a writable store (env VEXIL_FLAGS)')
    .option('--port <port>', 'port (env VEXIL_PORT; default 1031; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (env VEXIL_HOST; default 127.0.0.1)')
    .option('--config <file>', 'YAML config file with the same options in camelCase (env VEXIL_CONFIG)')
    .option('--admin-key <key>', 'accept this admin key (role admin); repeatable or comma separated (env VEXIL_ADMIN_KEYS)', collect)
    .option('--sdk-key <key>', 'accept this SDK key; repeatable or comma separated (env VEXIL_SDK_KEYS)', collect)
    .option('--events-file <file>', 'append events from /v1/data/collector to this JSON-lines file (env VEXIL_EVENTS_FILE)')
    .option('--events <url>', 'keep events durably: sqlite:<file> | pglite:<dir> | postgres://…?schema=… | off (env VEXIL_EVENTS; default: the flag store\'s database when SQL, else sqlite:./.vexil/events.db)')
    .option('--events-webhook <url>', 'POST collected events in batches to this URL, signed with VEXIL_EVENTS_WEBHOOK_SECRET (env VEXIL_EVENTS_WEBHOOK)')
    .option('--public-url <url>', 'public base URL for advertised stream URLs (env VEXIL_PUBLIC_URL)')
    .option('--rate-limit <n>', 'requests per minute per key, 0 disables (env VEXIL_RATE_LIMIT; default 100000)')
    .option('--keys-file <file>', 'keep API keys (hashed) in this file when the store cannot (env VEXIL_KEYS_FILE)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (env VEXIL_LOG_LEVEL; default info)')
    .addOption(new Option('--no-examples', 'do not load the example flags into a fresh embedded store'))
    .option('--notify-webhook <url>', 'POST a JSON notification (GO Feature Flag webhook body) to this URL on flag changes; repeatable (env VEXIL_NOTIFY_WEBHOOKS, comma separated; VEXIL_NOTIFY_SECRET signs them)', collect)
    .option('--notify-slack <url>', 'post flag changes to this Slack incoming webhook; repeatable (env VEXIL_NOTIFY_SLACK)', collect)
    .option('--prometheus <url>', 'Prometheus base URL for prometheus: gates of rollout plans (env VEXIL_PROMETHEUS_URL)')
    .addOption(new Option('--no-rollout-controller', 'do not run the rollout controller in this server (env VEXIL_ROLLOUT_CONTROLLER=false)'))
    .option('--oidc-issuer <url>', 'sign in on the admin page with this OpenID provider (env VEXIL_OIDC_ISSUER; client secret: VEXIL_OIDC_CLIENT_SECRET; session secret for several servers: VEXIL_SESSION_SECRET)')
    .option('--oidc-client-id <id>', 'the client id registered with the provider (env VEXIL_OIDC_CLIENT_ID)')
    .option('--oidc-scopes <scopes>', 'scopes asked for (env VEXIL_OIDC_SCOPES; default "openid profile email")')
    .option('--oidc-role-claim <path>', 'the claim holding groups or roles (env VEXIL_OIDC_ROLE_CLAIM; default groups)')
    .option('--oidc-role <mapping>', 'GROUP=ROLE or GROUP=PROJECT/ENV:ROLE[,…] (* for any); repeatable (env VEXIL_OIDC_ROLES, ; separated)', (value: string, previous: string[] = []) => [...previous, value])
    .addOption(new Option('--no-notify', 'send no change notifications from this server (env VEXIL_NOTIFY=false): in a cluster, let one server send them'))
    .addHelpText(
      'after',
      `
Examples:
  vexil serve                                          embedded store in ./.vexil/data, admin page at /; prints generated keys on first start
  vexil serve --flags flags.goff.yaml                  serve flag files read-only (GitOps), reloaded when they change
  vexil serve --store redis://localhost:6379 --flags flags.goff.yaml   import the files into Redis at start
  VEXIL_STORE=postgres://localhost/vexil VEXIL_ADMIN_KEYS=$(openssl rand -base64 24) vexil serve --host 0.0.0.0
  VEXIL_NOTIFY_SECRET=s3cret vexil serve --notify-webhook https://hooks.example.com/vexil   signed change notifications`,
    )
    .action(async (options: ServeCliOptions) => {
      const config = await resolveServeConfig(options);
      await startServer(startOptionsFromConfig(config));
    });
}
