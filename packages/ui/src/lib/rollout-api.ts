// The rollout part of the admin API: a flag's plan, state and checks, and a person's commands.
import type { RolloutCheckRecord, RolloutStateDefinition } from '@vexil/core';
import { call } from './api.js';

export type RolloutCommand = 'approve' | 'pause' | 'resume' | 'abort' | 'skip';

export interface RolloutView {
  key: string;
  version: number;
  status: RolloutStateDefinition['status'] | 'not-started';
  percent: number;
  plan: { variation: string; steps: Array<{ percent: number; approval?: boolean }> | number[]; gates: unknown[]; [field: string]: unknown };
  state: RolloutStateDefinition | null;
  nextCheckAt: string | null;
  controller: { holder: string; expiresAt: string | number } | null;
}

const enc = encodeURIComponent;

export const rolloutApi = {
  async get(key: string): Promise<RolloutView> {
    return (await call<RolloutView>('GET', `/admin/v1/flags/${enc(key)}/rollout`)).data;
  },
  async command(key: string, command: RolloutCommand): Promise<{ status: string; percent: number; reason: string }> {
    return (await call<{ status: string; percent: number; reason: string }>('POST', `/admin/v1/flags/${enc(key)}/rollout/${command}`, { body: {} })).data;
  },
};

/** Which commands make sense in a status (the server still decides: 409 otherwise). */
export function commandsFor(status: RolloutView['status']): RolloutCommand[] {
  switch (status) {
    case 'running':
      return ['pause', 'skip', 'abort'];
    case 'waiting-for-approval':
      return ['approve', 'pause', 'abort'];
    case 'paused':
      return ['resume', 'abort'];
    default:
      return [];
  }
}

/** Per gate, its figure on the rollout arm and on control at every check: the chart's columns (x in Unix seconds). */
export function gateSeries(history: RolloutCheckRecord[]): Array<{ gate: string; x: number[]; rollout: Array<number | null>; control: Array<number | null> }> {
  const checks = history.filter((record) => record.gates.length > 0);
  const gates = [...new Set(checks.flatMap((record) => record.gates.map((gate) => gate.gate)))];
  return gates.map((gate) => {
    const x: number[] = [];
    const rollout: Array<number | null> = [];
    const control: Array<number | null> = [];
    for (const record of checks) {
      const found = record.gates.find((g) => g.gate === gate);
      if (!found) continue;
      x.push(Date.parse(record.at) / 1000);
      rollout.push(found.value ?? null);
      control.push(found.control ?? null);
    }
    return { gate, x, rollout, control };
  });
}
