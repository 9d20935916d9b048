// A GO Feature Flag-style file of 10,000 flags, the size of GO Feature Flag's own large test file (about 100k lines
// of YAML): every variation type, percentage default rules, and a share of flags with targeting rules, metadata,
// disabled rules and other optional fields. Generated in memory, deterministically.

export const BIG_FLAG_COUNT = 10_000;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const COUNTRIES = ['fr', 'de', 'it', 'es', 'us', 'gb', 'jp', 'br'];

function variationsFor(i: number): Record<string, Json> {
  switch (i % 5) {
    case 0:
      return { enabled: true, disabled: false };
    case 1:
      return { control: 'control', treatment: `treatment-${i}`, holdout: 'holdout' };
    case 2:
      return { low: 10, medium: 25 + (i % 7), high: 100 };
    case 3:
      return { short: ['a', 'b'], long: ['a', 'b', 'c', 'd'] };
    default:
      return { v1: { model: 'baseline', topK: 10 }, v2: { model: `candidate-${i % 13}`, topK: 20 } };
  }
}

/** The flag definitions as data (what the YAML and JSON texts both hold). */
export function bigFlagSet(count = BIG_FLAG_COUNT): Record<string, Record<string, Json>> {
  const flags: Record<string, Record<string, Json>> = {};
  for (let i = 0; i < count; i++) {
    const variations = variationsFor(i);
    const names = Object.keys(variations);
    const first = names[0]!;
    const last = names[names.length - 1]!;
    const percentage: Record<string, Json> = {};
    if (names.length === 2) {
      const share = i % 101;
      percentage[first] = 100 - share;
      percentage[last] = share;
    } else {
      const share = i % 67;
      percentage[names[0]!] = 100 - share - (share >> 1);
      percentage[names[1]!] = share;
      percentage[names[2]!] = share >> 1;
    }
    const flag: Record<string, Json> = { variations };
    if (i % 4 === 0) {
      const rules: Json[] = [
        { name: 'beta-users', query: `beta eq true and country in ["${COUNTRIES[i % 8]}","${COUNTRIES[(i + 3) % 8]}"]`, variation: last },
      ];
      if (i % 8 === 0) rules.push({ name: 'staff', query: 'email ew "@example.com" or (plan eq "pro" and age ge 18)', percentage: { [first]: 20, [last]: 80 } });
      if (i % 40 === 0) rules.push({ query: `key sw "user-${i}"`, variation: first, disable: true });
      flag.targeting = rules;
    }
    flag.defaultRule = i % 3 === 0 ? { variation: first } : { percentage };
    if (i % 10 === 0) flag.metadata = { description: `Flag number ${i}, generated for the load benchmark.`, owner: `team-${i % 17}` };
    if (i % 25 === 0) flag.trackEvents = false;
    if (i % 50 === 0) flag.version = `1.${i % 9}.0`;
    if (i % 97 === 0) flag.disable = true;
    flags[`test-flag-${i}`] = flag;
  }
  return flags;
}

// A small YAML emitter in GO Feature Flag's style (block maps, block sequences, quoted strings where needed).

function scalar(value: Json): string {
  if (typeof value === 'string') {
    if (/^[a-z][a-z0-9-]*$/i.test(value) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(value)) return value;
    // Queries read best single-quoted, as GO Feature Flag's examples write them.
    if (value.includes('"') && !value.includes("'")) return `'${value}'`;
  }
  return JSON.stringify(value);
}

function emit(value: Json, indent: string, out: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        const entries = Object.entries(item);
        entries.forEach(([key, child], index) => {
          const prefix = index === 0 ? `${indent}- ` : `${indent}  `;
          if (child !== null && typeof child === 'object') {
            out.push(`${prefix}${key}:`);
            emit(child, `${indent}    `, out);
          } else {
            out.push(`${prefix}${key}: ${scalar(child)}`);
          }
        });
      } else {
        out.push(`${indent}- ${scalar(item)}`);
      }
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (child !== null && typeof child === 'object' && (Array.isArray(child) ? child.length > 0 : Object.keys(child).length > 0)) {
        out.push(`${indent}${key}:`);
        emit(child, `${indent}    `, out);
      } else {
        out.push(`${indent}${key}: ${scalar(child)}`);
      }
    }
  }
}

export function toYaml(flags: Record<string, Record<string, Json>>): string {
  const out: string[] = [];
  for (const [key, flag] of Object.entries(flags)) {
    out.push(`${key}:`);
    emit(flag, '    ', out);
  }
  return out.join('\n') + '\n';
}

export function toJson(flags: Record<string, Record<string, Json>>): string {
  return JSON.stringify(flags, null, 2) + '\n';
}
