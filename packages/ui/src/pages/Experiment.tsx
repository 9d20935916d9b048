// A flag's experiment results (GET /admin/v1/flags/{key}/experiment): exposures per variation, per metric a table and
// a forest plot of the relative uplifts with their intervals, the warnings, and "stop and ship": the defaultRule
// set to the chosen variation through the normal audited flag write. For a sticky experiment, "start assignments
// over" raises `experiment.stickyVersion` the same way: every unit is then assigned afresh by the current split.
import { useEffect, useState } from 'preact/hooks';
import { api, call, isSentForReview } from '../lib/api.js';
import { useRights } from '../lib/rights.js';
import { announceSentForReview } from '../lib/review.js';
import { ErrorBox, Loading, Confirm, variationColor } from '../components/basics.js';
import { SeriesChart } from '../components/SeriesChart.js';

type Bound = number | null;
interface VariationResult {
  variation: string;
  units: number;
  conversions?: number;
  mean: number;
  stdDev: number;
  uplift?: { expected: number; ci: [Bound, Bound]; pValue?: number | null; pValueAdjusted?: number; chanceToWin?: number; risk?: [number, number]; significant: 'better' | 'worse' | 'none'; error?: string };
}
interface MetricResult {
  name: string;
  type: 'binomial' | 'mean' | 'ratio';
  role: 'goal' | 'guardrail' | 'secondary';
  inverse: boolean;
  variations: VariationResult[];
}
export interface ExperimentResults {
  flag: string;
  control: string;
  engine: 'frequentist' | 'bayesian';
  status: string;
  attributionWindowHours: number;
  cupedLookbackDays?: number | null;
  exposures: Array<{ variation: string; units: number; expectedShare: number }>;
  cumulativeExposures: Array<{ at: string; units: number[] }>;
  multipleExposures: number;
  srm: { pValue: number; mismatch: boolean };
  metrics: MetricResult[];
  warnings: Array<{ code: string; message: string }>;
}

const pct = (x: Bound | undefined, sign = true) => (x === null || x === undefined ? '–' : `${sign && x > 0 ? '+' : ''}${(x * 100).toFixed(1)} %`);
const num = (x: number) => Number(x.toPrecision(4)).toLocaleString('en');

/** Relative uplifts with their intervals on one axis, zero marked; a row per treatment. */
function ForestPlot(props: { metric: MetricResult; order: string[] }) {
  const rows = props.metric.variations.filter((v) => v.uplift && !v.uplift.error);
  if (rows.length === 0) return null;
  const values = rows.flatMap((v) => [v.uplift!.ci[0] ?? v.uplift!.expected, v.uplift!.ci[1] ?? v.uplift!.expected, 0]);
  const span = Math.max(...values.map(Math.abs), 0.01) * 1.15;
  const width = 420;
  const x = (value: number) => 110 + ((value + span) / (2 * span)) * (width - 130);
  const height = 26 * rows.length + 24;
  return (
    <svg class="forest-plot" width={width} height={height} role="img" aria-label={`Uplift of ${props.metric.name} against the control, with 95 % intervals`}>
      <line x1={x(0)} x2={x(0)} y1={4} y2={height - 18} stroke="#888" stroke-dasharray="3 3" />
      <text x={x(0)} y={height - 4} text-anchor="middle" font-size="11">0</text>
      <text x={x(-span)} y={height - 4} font-size="11">{pct(-span / 1.15)}</text>
      <text x={x(span)} y={height - 4} text-anchor="end" font-size="11">{pct(span / 1.15)}</text>
      {rows.map((v, i) => {
        const y = 16 + i * 26;
        const u = v.uplift!;
        const color = u.significant === 'better' ? '#1a7f37' : u.significant === 'worse' ? '#cf222e' : variationColor(props.order.indexOf(v.variation));
        return (
          <g key={v.variation}>
            <text x={4} y={y + 4} font-size="12">{v.variation}</text>
            <line x1={x(u.ci[0] ?? -span)} x2={x(u.ci[1] ?? span)} y1={y} y2={y} stroke={color} stroke-width={3} />
            <circle cx={x(u.expected)} cy={y} r={5} fill={color} />
          </g>
        );
      })}
    </svg>
  );
}

export function ExperimentPage(props: { flagKey: string }) {
  const [results, setResults] = useState<ExperimentResults>();
  const [error, setError] = useState<unknown>();
  const [ship, setShip] = useState<string>();
  const [shipped, setShipped] = useState<string>();
  /** The sticky assignments' version when the experiment is sticky (0 before any restart); undefined otherwise. */
  const [stickyVersion, setStickyVersion] = useState<number>();
  const [confirmRestart, setConfirmRestart] = useState(false);
  const [restarted, setRestarted] = useState<number>();
  const rights = useRights();

  const load = () => {
    setError(undefined);
    call<ExperimentResults>('GET', `/admin/v1/flags/${encodeURIComponent(props.flagKey)}/experiment`).then((answer) => setResults(answer.data), setError);
    // Only for the sticky-assignments section: the results page stands without it.
    api.getFlag(props.flagKey).then(
      (record) => {
        const experiment = record.flag.experiment;
        setStickyVersion(experiment?.sticky !== undefined && experiment.sticky !== false ? (experiment.stickyVersion ?? 0) : undefined);
      },
      () => setStickyVersion(undefined),
    );
  };

  const startAssignmentsOver = async () => {
    const record = await api.getFlag(props.flagKey);
    const experiment = record.flag.experiment;
    if (!experiment) return;
    const version = (experiment.stickyVersion ?? 0) + 1;
    const flag = { ...record.flag, experiment: { ...experiment, stickyVersion: version } };
    const saved = await api.putFlag(props.flagKey, flag, record.version, `sticky assignments started over (stickyVersion ${version})`);
    if (isSentForReview(saved)) announceSentForReview(`start the sticky assignments of ${props.flagKey} over`, saved.changeRequest);
    else {
      setStickyVersion(version);
      setRestarted(version);
    }
  };
  useEffect(load, [props.flagKey]);

  const stopAndShip = async (variation: string) => {
    const record = await api.getFlag(props.flagKey);
    // The experiment ends now (unless it already has): sticky assignments stop being served, so every unit gets the
    // shipped variation, and the results stay those of the experiment's run.
    const end = record.flag.experiment?.end;
    const start = record.flag.experiment?.start;
    const ended = (end !== undefined && Date.parse(end) <= Date.now()) || (start !== undefined && Date.parse(start) >= Date.now());
    const experiment = record.flag.experiment && !ended ? { ...record.flag.experiment, end: new Date().toISOString() } : record.flag.experiment;
    const flag = { ...record.flag, defaultRule: { variation }, ...(experiment ? { experiment } : {}) };
    const saved = await api.putFlag(props.flagKey, flag, record.version, `experiment stopped: ship "${variation}"`);
    if (isSentForReview(saved)) announceSentForReview(`ship "${variation}" of ${props.flagKey}`, saved.changeRequest);
    else setShipped(variation);
  };

  if (error) return <ErrorBox error={error} title="Experiment results" />;
  if (!results) return <Loading what="experiment results" />;
  const order = results.exposures.map((e) => e.variation);
  const total = results.exposures.reduce((n, e) => n + e.units, 0) || 1;
  const frequentist = results.engine === 'frequentist';
  return (
    <section class="experiment">
      <h1>Experiment: {results.flag}</h1>
      <p>
        {results.status}, control <strong>{results.control}</strong>, {results.engine}, {results.attributionWindowHours} h attribution window{results.cupedLookbackDays ? `, CUPED over ${results.cupedLookbackDays} days before exposure` : ''}; SRM p = {num(results.srm.pValue)}; units in several
        variations: {results.multipleExposures}
      </p>
      {results.warnings.length > 0 && (
        <ul class="experiment-warnings" role="alert">
          {results.warnings.map((w) => (
            <li key={w.code}>
              <strong>{w.code}</strong>: {w.message}
            </li>
          ))}
        </ul>
      )}
      <h2>Exposures</h2>
      <table class="experiment-exposures">
        <thead>
          <tr><th>variation</th><th>units</th><th>share</th><th>expected</th></tr>
        </thead>
        <tbody>
          {results.exposures.map((e) => (
            <tr key={e.variation}>
              <th scope="row">{e.variation}</th>
              <td>{e.units.toLocaleString('en')}</td>
              <td>{pct(e.units / total, false)}</td>
              <td>{pct(e.expectedShare, false)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {results.cumulativeExposures.length > 0 && (
        <SeriesChart
          title={`Cumulative units per variation of ${results.flag}`}
          // Starts from zero an hour before the first exposures, so even one hour of data draws a line.
          x={[Math.floor(Date.parse(results.cumulativeExposures[0]!.at) / 1000) - 3600, ...results.cumulativeExposures.map((point) => Math.floor(Date.parse(point.at) / 1000))]}
          series={order.map((variation, i) => ({ label: variation, values: [0, ...results.cumulativeExposures.map((point) => point.units[i] ?? 0)], colorIndex: i }))}
          unit="units"
          height={180}
        />
      )}
      {results.metrics.map((metric) => (
        <div class="experiment-metric" key={metric.name}>
          <h2>
            {metric.name} <small>({metric.type}, {metric.role}{metric.inverse ? ', lower is better' : ''})</small>
          </h2>
          <table class="experiment-results">
            <thead>
              <tr>
                <th>variation</th><th>units</th><th>{metric.type === 'binomial' ? 'conversion' : 'mean'}</th><th>uplift</th><th>95 % interval</th>
                {frequentist ? <th>p-value</th> : <th>chance to win</th>}
                <th>verdict</th>
              </tr>
            </thead>
            <tbody>
              {metric.variations.map((v) => (
                <tr key={v.variation}>
                  <th scope="row">{v.variation}</th>
                  <td>{v.units.toLocaleString('en')}</td>
                  <td>{metric.type === 'binomial' ? `${v.conversions ?? 0} (${pct(v.mean, false)})` : num(v.mean)}</td>
                  <td>{v.uplift ? pct(v.uplift.expected) : 'control'}</td>
                  <td>{v.uplift ? `${pct(v.uplift.ci[0])} … ${pct(v.uplift.ci[1])}` : ''}</td>
                  <td>{v.uplift ? (frequentist ? (v.uplift.pValueAdjusted ?? v.uplift.pValue ?? null) === null ? '–' : num((v.uplift.pValueAdjusted ?? v.uplift.pValue)!) : v.uplift.chanceToWin === undefined ? '–' : pct(v.uplift.chanceToWin, false)) : ''}</td>
                  <td>{v.uplift ? (v.uplift.error ?? v.uplift.significant) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ForestPlot metric={metric} order={order} />
        </div>
      ))}
      {rights.canEdit && <h2>Stop and ship</h2>}
      {!rights.canEdit ? null : shipped ? (
        <p role="status">Shipped: every unit now gets "{shipped}" (defaultRule), recorded in the audit log.</p>
      ) : (
        <p>
          {order.map((variation) => (
            <button key={variation} type="button" onClick={() => setShip(variation)}>
              Ship {variation}
            </button>
          ))}
        </p>
      )}
      {rights.canEdit && stickyVersion !== undefined && (
        <>
          <h2>Sticky assignments</h2>
          {restarted !== undefined ? (
            <p role="status">Started over: every unit is assigned afresh by the current split (stickyVersion {restarted}), recorded in the audit log.</p>
          ) : (
            <p>
              Each unit keeps the variation it was first served (stickyVersion {stickyVersion}).{' '}
              <button type="button" onClick={() => setConfirmRestart(true)}>
                Start assignments over
              </button>
            </p>
          )}
        </>
      )}
      <Confirm
        open={confirmRestart}
        title="Start the sticky assignments over?"
        confirmLabel="Start over"
        onConfirm={() => {
          setConfirmRestart(false);
          startAssignmentsOver().catch(setError);
        }}
        onCancel={() => setConfirmRestart(false)}
      >
        Every unit will be assigned afresh by the flag's current split, on every server, as on the experiment's first day. The
        current assignments are no longer served (they expire by themselves); the results keep every exposure so far.
      </Confirm>
      <Confirm
        open={ship !== undefined}
        title={`Stop the experiment and ship "${ship}"?`}
        confirmLabel="Stop and ship"
        onConfirm={() => {
          const variation = ship!;
          setShip(undefined);
          stopAndShip(variation).catch(setError);
        }}
        onCancel={() => setShip(undefined)}
      >
        The flag's default rule will serve "{ship}" to every unit that no targeting rule catches.
      </Confirm>
    </section>
  );
}
