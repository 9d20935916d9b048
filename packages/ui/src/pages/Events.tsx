// Per flag: evaluations and distinct units per variation over time; per tracked metric: events, errors and p99 per
// variation. All from the server's events store (`vexil serve --events`).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { eventsApi, toColumns, type FlagEventsSummary, type MetricSummary } from '../lib/events-api.js';
import { links, navigate } from '../lib/router.js';
import { ErrorBox, Loading } from '../components/basics.js';
import { SeriesChart } from '../components/SeriesChart.js';

const RANGES = ['15m', '1h', '6h', '24h', '7d'];

const fmt = (n: number | null, digits = 2) => (n === null ? '–' : Number(n.toFixed(digits)).toLocaleString('en'));
const pct = (n: number | null) => (n === null ? '–' : `${(n * 100).toFixed(2)} %`);

export function EventsPage(props: { flag?: string; metric?: string; since?: string }) {
  const since = props.since && RANGES.includes(props.since) ? props.since : '1h';
  const [flags, setFlags] = useState<string[]>();
  const [flag, setFlag] = useState(props.flag ?? '');
  const [metric, setMetric] = useState(props.metric ?? '');
  const [summary, setSummary] = useState<FlagEventsSummary>();
  const [metricSummary, setMetricSummary] = useState<MetricSummary>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    api.listFlags().then((list) => setFlags(list.flags.map((f) => f.key).sort()), setError);
  }, []);
  useEffect(() => setFlag(props.flag ?? ''), [props.flag]);
  useEffect(() => setMetric(props.metric ?? ''), [props.metric]);

  useEffect(() => {
    let live = true;
    setSummary(undefined);
    setMetricSummary(undefined);
    setError(undefined);
    if (props.flag) eventsApi.flag(props.flag, since).then((s) => live && setSummary(s), (e) => live && setError(e));
    if (props.metric) eventsApi.metric(props.metric, props.flag, since).then((m) => live && setMetricSummary(m), (e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [props.flag, props.metric, since]);

  const variations = useMemo(() => summary?.variations.map((v) => v.variation) ?? [], [summary]);
  const charts = useMemo(() => {
    if (!summary) return undefined;
    const evaluations = toColumns(summary.series, variations, (p) => p.evaluations, summary);
    const units = toColumns(summary.series, variations, (p) => p.units, summary);
    const series = (ys: Array<Array<number | null>>) => variations.map((label, i) => ({ label, values: ys[i]!, colorIndex: i }));
    return { x: evaluations.x, evaluations: series(evaluations.ys), units: series(units.ys) };
  }, [summary, variations]);
  const metricCharts = useMemo(() => {
    if (!metricSummary) return undefined;
    const names = metricSummary.rows.map((r) => r.variation);
    const range = { since: metricSummary.since, until: metricSummary.until, stepMinutes: metricSummary.stepMinutes };
    const colour = (name: string) => Math.max(0, variations.indexOf(name)) + (variations.includes(name) ? 0 : names.indexOf(name));
    const counts = toColumns(metricSummary.series, names, (p) => p.count, range);
    const p99 = toColumns(metricSummary.series, names, (p) => p.p99, range, null);
    const series = (ys: Array<Array<number | null>>) => names.map((label, i) => ({ label, values: ys[i]!, colorIndex: colour(label) }));
    return { x: counts.x, counts: series(counts.ys), p99: series(p99.ys) };
  }, [metricSummary, variations]);

  const go = (next: { flag?: string; metric?: string; since?: string }) =>
    navigate(links.events({ flag: next.flag ?? (flag || undefined), metric: next.metric ?? (metric.trim() || undefined), since: next.since ?? since }));

  return (
    <section aria-labelledby="events-title">
      <div class="page-head">
        <h1 id="events-title" tabIndex={-1}>
          Events
        </h1>
      </div>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          go({});
        }}
      >
        <label>
          <span>Flag</span>
          <select value={flag} onChange={(event) => go({ flag: event.currentTarget.value })}>
            <option value="">Choose a flag</option>
            {(flags ?? []).map((key) => (
              <option key={key} value={key}>
                {key}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Tracked metric</span>
          <input class="mono" placeholder="e.g. request" value={metric} onInput={(event) => setMetric(event.currentTarget.value)} />
        </label>
        <label>
          <span>Range</span>
          <select value={since} onChange={(event) => go({ since: event.currentTarget.value })}>
            {RANGES.map((r) => (
              <option key={r} value={r}>
                last {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      <ErrorBox error={error} title="Cannot load the events" />
      {!props.flag && !props.metric && <p class="empty">Choose a flag to see its evaluations and distinct units per variation over time.</p>}
      {props.flag && !summary && !error && <Loading what="the flag's events" />}
      {summary && (
        <>
          <table class="events-totals">
            <caption>
              <a href={links.flag(summary.flag)}>{summary.flag}</a>, last {since} ({summary.stepMinutes}-minute steps)
            </caption>
            <thead>
              <tr>
                <th scope="col">Variation</th>
                <th scope="col">Evaluations</th>
                <th scope="col">Distinct units</th>
                <th scope="col">Errors</th>
              </tr>
            </thead>
            <tbody>
              {summary.variations.length === 0 && (
                <tr>
                  <td colSpan={4} class="muted">
                    No evaluations in this range.
                  </td>
                </tr>
              )}
              {summary.variations.map((v) => (
                <tr key={v.variation}>
                  <th scope="row">{v.variation}</th>
                  <td>{v.evaluations.toLocaleString('en')}</td>
                  <td>{v.units.toLocaleString('en')}</td>
                  <td>{Object.entries(v.errors).map(([code, n]) => `${code} ${n}`).join(', ') || '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {charts && variations.length > 0 && (
            <div class="charts">
              <SeriesChart title={`Evaluations per variation of ${summary.flag}`} unit="evaluations" x={charts.x} series={charts.evaluations} />
              <SeriesChart title={`Distinct units per variation of ${summary.flag}`} unit="units" x={charts.x} series={charts.units} />
            </div>
          )}
        </>
      )}
      {metricSummary && (
        <>
          <table class="events-totals">
            <caption>
              {metricSummary.metric}
              {metricSummary.flag ? ` by variation of ${metricSummary.flag} (each unit counted in the variation it saw first)` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Variation</th>
                <th scope="col">Events</th>
                <th scope="col">Errors</th>
                <th scope="col">Error rate</th>
                <th scope="col">Mean</th>
                <th scope="col">p50</th>
                <th scope="col">p95</th>
                <th scope="col">p99</th>
              </tr>
            </thead>
            <tbody>
              {metricSummary.rows.map((r) => (
                <tr key={r.variation}>
                  <th scope="row">{r.variation}</th>
                  <td>{r.count.toLocaleString('en')}</td>
                  <td>{r.errors.toLocaleString('en')}</td>
                  <td>{pct(r.errorRate)}</td>
                  <td>{fmt(r.mean)}</td>
                  <td>{fmt(r.p50)}</td>
                  <td>{fmt(r.p95)}</td>
                  <td>{fmt(r.p99)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {metricCharts && metricSummary.rows.length > 0 && (
            <div class="charts">
              <SeriesChart title={`${metricSummary.metric} events per variation`} unit="events" x={metricCharts.x} series={metricCharts.counts} />
              <SeriesChart title={`${metricSummary.metric} p99 per variation`} unit="p99" x={metricCharts.x} series={metricCharts.p99} />
            </div>
          )}
        </>
      )}
    </section>
  );
}
