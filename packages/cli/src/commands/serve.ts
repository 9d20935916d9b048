import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve flags over OFREP, the GO Feature Flag relay API, the admin API and the admin page')
    .allowUnknownOption(true)
    .action(async () => {
      throw new Error('serve is not available yet in this build');
    });
}
