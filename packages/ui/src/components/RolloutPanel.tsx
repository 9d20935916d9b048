// A flag's progressive delivery: where the rollout stands, every check with its figures, thresholds and decision, a
// chart of each gate's figure per arm over the checks, and a person's commands (approve, pause, resume, abort, skip).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../lib/api.js';
import { commandsFor, gateSeries, rolloutApi, type RolloutCommand, type RolloutView } from '../lib/rollout-api.js';
import { dateTime } from '../lib/format.js';
import { toast } from '../lib/toast.js';
import { SeriesChart } from './SeriesChart.js';

const REFRESH_MS = 5000;

const figure = (value: number | undefined) => (value === undefined ? '–' : Number.isInteger(value) ? String(value) : value.toPrecision(3));

export function RolloutPanel(props: { flagKey: string; onChanged?: () => void }) {
  const [view, setView] = useState<RolloutView>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<RolloutCommand>();

  const load = () =>
    rolloutApi.get(props.flagKey).then(
      (answer) => {
        setView(answer);
        setError(undefined);
      },
      (failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)),
    );
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [props.flagKey]);

  const history = view?.state?.history ?? [];
  const charts = useMemo(() => gateSeries(history), [view]);

  const run = async (command: RolloutCommand) => {
    setBusy(command);
    try {
      const answer = await rolloutApi.command(props.flagKey, command);
      toast(`${command}: ${answer.status}, ${answer.percent}% served`);
      await load();
      props.onChanged?.();
    } catch (failure) {
      toast(failure instanceof ApiError || failure instanceof Error ? failure.message : String(failure), 'error');
    } finally {
      setBusy(undefined);
    }
  };

  if (error && !view) return <p class="error" role="alert">Rollout: {error}</p>;
  if (!view) return <p aria-busy="true">Loading the rollout…</p>;
  const steps = (view.plan.steps as Array<number | { percent: number }>).map((step) => (typeof step === 'number' ? step : step.percent));
  const state = view.state;
  return (
    <div class="rollout-panel">
      <dl class="rollout-state" aria-label="Rollout state">
        <dt>Status</dt>
        <dd data-testid="rollout-status">{view.status}</dd>
        <dt>Step</dt>
        <dd data-testid="rollout-step">{state ? `${state.stepIndex + 1} of ${steps.length} (${steps.join(' → ')} %)` : '–'}</dd>
        <dt>Serving {view.plan.variation}</dt>
        <dd data-testid="rollout-percent">{view.percent}%</dd>
        <dt>Checks this step</dt>
        <dd>{state ? `${state.checks} (${state.successful} passed, ${state.failed} failed, ${state.inconclusive} inconclusive)` : '–'}</dd>
        <dt>Next check</dt>
        <dd>{view.nextCheckAt ? dateTime(view.nextCheckAt) : '–'}</dd>
        <dt>Controller</dt>
        <dd>{view.controller ? view.controller.holder : 'none leading'}</dd>
        {state?.reason ? (
          <>
            <dt>Reason</dt>
            <dd>{state.reason}</dd>
          </>
        ) : null}
      </dl>
      <div class="rollout-commands" role="group" aria-label="Rollout commands">
        {(['approve', 'pause', 'resume', 'skip', 'abort'] as RolloutCommand[]).map((command) => (
          <button
            type="button"
            class={command === 'abort' ? 'danger' : ''}
            disabled={busy !== undefined || !commandsFor(view.status).includes(command)}
            onClick={() => void run(command)}
          >
            {command[0]!.toUpperCase() + command.slice(1)}
          </button>
        ))}
      </div>
      {charts.map((chart) => (
        <SeriesChart
          title={chart.gate}
          x={chart.x}
          unit={chart.gate}
          height={180}
          series={[
            { label: `${view.plan.variation} (rollout)`, values: chart.rollout, colorIndex: 0 },
            { label: 'control', values: chart.control, colorIndex: 1 },
          ]}
        />
      ))}
      <table class="rollout-checks">
        <caption>Checks and actions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Step</th>
            <th scope="col">Gate</th>
            <th scope="col">Rollout</th>
            <th scope="col">Control</th>
            <th scope="col">Units</th>
            <th scope="col">Threshold</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {[...history].reverse().map((record) => (
            <>
              <tr class={`check ${record.phase}`}>
                <td>{dateTime(record.at)}</td>
                <td>{record.percent}%</td>
                <td colSpan={5}>{record.decision}</td>
                <td>{record.phase}</td>
              </tr>
              {record.gates.map((gate) => (
                <tr class={`gate ${gate.phase}`}>
                  <td />
                  <td />
                  <td>{gate.gate}</td>
                  <td>{figure(gate.value)}</td>
                  <td>{figure(gate.control)}</td>
                  <td>{gate.units ? `${gate.units.rollout}${gate.units.control !== undefined ? ` / ${gate.units.control}` : ''}` : '–'}</td>
                  <td>{gate.threshold}</td>
                  <td title={gate.message}>{gate.phase}</td>
                </tr>
              ))}
            </>
          ))}
        </tbody>
      </table>
    </div>
  );
}
