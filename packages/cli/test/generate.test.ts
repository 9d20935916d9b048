// `vexil generate`: the module it writes makes the TypeScript compiler check flag keys and value types against the
// flag files: a correct use compiles; a wrong type and a removed flag fail the build.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

function vexil(args: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const flagsYaml = `
new-checkout:
  variations: { on: true, off: false }
  defaultRule: { variation: off }
  metadata: { description: The new checkout }
banner:
  variations: { summer: "summer-sale", winter: "winter-sale" }
  defaultRule: { variation: summer }
  scheduledRollout:
    - date: 2030-01-01T00:00:00Z
      variations: { spring: "spring-sale" }
page-size:
  variations: { small: 10, large: 50 }
  defaultRule: { variation: small }
theme:
  variations: { dark: { colour: "#000", contrast: 2 }, light: { colour: "#fff", contrast: 1 } }
  defaultRule: { variation: dark }
`;

const goodUse = `
import { VexilClient } from '@vexil/openfeature';
import { flags, type FlagValues } from './flags.js';
const client = new VexilClient({ bootstrap: { flags: {} } });
const ctx = { targetingKey: 'user-42' };
const on: boolean = client.boolean(flags.newCheckout, ctx, false);
const banner: 'summer-sale' | 'winter-sale' | 'spring-sale' | 'none' = client.string(flags.banner, ctx, 'none');
const size: number = client.number(flags.pageSize, ctx, 20);
const theme = client.object(flags.theme, ctx, { colour: '#888', contrast: 0 });
const colour: string = theme.colour;
const detail = client.detail(flags.banner, ctx, 'none');
const key: keyof FlagValues = 'page-size';
// Plain strings still work (unchecked).
const other: string = client.string('not-generated', ctx, 'x');
export { on, banner, size, colour, detail, key, other };
`;

let dir: string;

function compile(source: string): { code: number | null; output: string } {
  writeFileSync(join(dir, 'use.ts'), source);
  const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, output: result.stdout + result.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-generate-'));
  // The sample resolves @vexil/openfeature as an app would, from its node_modules (here: the workspace package).
  mkdirSync(join(dir, 'node_modules/@vexil'), { recursive: true });
  symlinkSync(join(root, 'packages/openfeature'), join(dir, 'node_modules/@vexil/openfeature'), 'dir');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, types: [] },
      files: ['use.ts'],
    }),
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'flags.yaml'), flagsYaml);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vexil generate', () => {
  it('writes each flag key with its value type (string variations as a union of literals)', () => {
    const result = vexil(['generate', '--flags', join(dir, 'flags.yaml'), '--out', join(dir, 'flags.ts')]);
    assert.equal(result.code, 0, result.stderr);
    const text = readFileSync(join(dir, 'flags.ts'), 'utf8');
    assert.match(text, /newCheckout: "new-checkout" as FlagKey<boolean>/);
    assert.match(text, /banner: "banner" as FlagKey<"spring-sale" \| "summer-sale" \| "winter-sale">/);
    assert.match(text, /pageSize: "page-size" as FlagKey<number>/);
    assert.match(text, /\/\*\* The new checkout \*\//);
  });

  it('a correct use compiles with tsc (on the built packages: npm run build first)', () => {
    const result = compile(goodUse);
    assert.equal(result.code, 0, result.output);
  });

  it('a wrong value type fails the build', () => {
    const wrongMethod = compile(`${goodUse}\nclient.boolean(flags.banner, ctx, false);\n`);
    assert.notEqual(wrongMethod.code, 0);
    assert.match(wrongMethod.output, /use\.ts\(\d+,\d+\): error TS2345/);
    const wrongLiteral = compile(`${goodUse}\nconst x: 'summer-sale' | 'none' = client.string(flags.banner, ctx, 'none');\nexport { x };\n`);
    assert.notEqual(wrongLiteral.code, 0);
    assert.match(wrongLiteral.output, /winter-sale/);
  });

  it('a removed flag fails the build once the module is generated again', () => {
    writeFileSync(join(dir, 'flags.yaml'), flagsYaml.replace(/page-size:[\s\S]*?small }\n/, ''));
    const result = vexil(['generate', '--flags', join(dir, 'flags.yaml'), '--out', join(dir, 'flags.ts')]);
    assert.equal(result.code, 0, result.stderr);
    const compiled = compile(goodUse);
    assert.notEqual(compiled.code, 0);
    assert.match(compiled.output, /Property 'pageSize' does not exist/);
    writeFileSync(join(dir, 'flags.yaml'), flagsYaml);
  });

  it('a flag file with errors writes nothing and says why, with file and line', () => {
    const out = join(dir, 'broken.ts');
    writeFileSync(join(dir, 'broken.yaml'), 'f:\n  variations: { a: 1 }\n  defaultRule: { variation: b }\n');
    const result = vexil(['generate', '--flags', join(dir, 'broken.yaml'), '--out', out]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /broken\.yaml:3:18 f defaultRule\.variation: unknown variation "b"/);
    assert.equal(existsSync(out), false);
  });
});
