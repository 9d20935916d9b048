import { Command, CommanderError } from 'commander';
import { registerLint } from './commands/lint.js';
import { registerEval } from './commands/eval.js';
import { registerServe } from './commands/serve.js';
import { registerStoreCommands } from './commands/store-sync.js';
import { registerExperiment } from './commands/experiment.js';
import { registerGenerate } from './commands/generate.js';
import { registerRollout } from './commands/rollout.js';
import { registerEvents } from './commands/events.js';
import { registerEnv } from './commands/env.js';
import { registerPromote } from './commands/promote.js';
import { registerChanges } from './commands/changes.js';

/** Builds the `vexil` command line. Exported so tests can run it in-process. */
export function buildProgram(): Command {
  const program = new Command('vexil')
    .description('Vexil: feature flags and progressive delivery, compatible with GO Feature Flag files and OpenFeature.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });
  registerLint(program);
  registerEval(program);
  registerServe(program);
  registerStoreCommands(program);
  registerExperiment(program);
  registerGenerate(program);
  registerRollout(program);
  registerEvents(program);
  registerEnv(program);
  registerPromote(program);
  registerChanges(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    throw error;
  }
}
