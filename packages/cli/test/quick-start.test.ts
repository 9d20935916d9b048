// Issue 9, item 21: the README's quick start runs exactly as written, from a fresh clone (after `npm install`, which
// builds), with only what the repository holds. Before, it read a `requests.jsonl` the repository did not have.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The commands of the README's "## Quick start" code block, one per line. */
function quickStartCommands(): string[] {
  const section = readme.split(/^## Quick start$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /^```[a-z]*\n([\s\S]*?)^```/m.exec(section)?.[1] ?? '';
  return block.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

describe('README quick start', () => {
  const commands = quickStartCommands();

  it('has commands, and every file they name is in the repository', () => {
    assert.ok(commands.length >= 3, `quick start commands: ${JSON.stringify(commands)}`);
    for (const command of commands) {
      for (const path of command.match(/(?<=\s)[\w./-]+\.(?:ya?ml|json|jsonl|toml)(?=\s|$)/g) ?? []) {
        assert.ok(existsSync(join(root, path)), `"${command}" names ${path}, which is not in the repository`);
      }
    }
  });

  for (const command of commands) {
    it(`runs: ${command}`, () => {
      const result = spawnSync('sh', ['-c', command], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' }, timeout: 120_000 });
      assert.equal(result.status, 0, `exit ${result.status}\n${result.stdout}\n${result.stderr}`);
      if (/\beval\b/.test(command)) {
        const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; reason: string; errorCode?: string });
        assert.ok(lines.length >= 1);
        // Every line of the example is a request for a flag the example file defines.
        for (const line of lines) assert.notEqual(line.errorCode, 'FLAG_NOT_FOUND', JSON.stringify(line));
        if (command.includes('--requests')) {
          const requests = readFileSync(join(root, /--requests\s+(\S+)/.exec(command)![1]!), 'utf8').trim().split('\n');
          assert.equal(lines.length, requests.length, 'one output line per request');
          assert.ok(lines.filter((line) => line.errorCode === undefined).length >= requests.length - 1, 'the example requests evaluate');
        }
      }
    });
  }

  it('points at no file users do not have', () => {
    assert.doesNotMatch(readme, /shared\/DESIGN\.md|\/work\//);
  });
});
