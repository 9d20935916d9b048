import { dateTime } from '../lib/format.js';

export interface TimelineRamp {
  label: string;
  start: string | undefined;
  end: string | undefined;
  from: number;
  to: number;
}

export interface TimelineEvent {
  label: string;
  date: string | undefined;
}

/**
 * Scheduled steps and progressive rollouts on one time axis, with "now". The drawing is decorative: the same
 * information is in the editable lists next to it (the SVG carries a text summary for screen readers).
 */
export function Timeline(props: { events: TimelineEvent[]; ramps: TimelineRamp[]; window?: { start?: string; end?: string } }) {
  const now = Date.now();
  const times: number[] = [now];
  const at = (iso: string | undefined) => (iso ? Date.parse(iso) : NaN);
  for (const event of props.events) if (!Number.isNaN(at(event.date))) times.push(at(event.date));
  for (const ramp of props.ramps) for (const t of [at(ramp.start), at(ramp.end)]) if (!Number.isNaN(t)) times.push(t);
  if (props.window) for (const t of [at(props.window.start), at(props.window.end)]) if (!Number.isNaN(t)) times.push(t);
  if (times.length === 1) return <p class="muted small">Nothing scheduled: add a dated step, or a progressive rollout to a rule.</p>;

  let min = Math.min(...times);
  let max = Math.max(...times);
  const span = Math.max(max - min, 86_400_000);
  min -= span * 0.06;
  max += span * 0.06;
  const W = 1000;
  const left = 8;
  const x = (t: number) => left + ((t - min) / (max - min)) * (W - 2 * left);
  const laneHeight = 34;
  const lanes = (props.events.length ? 1 : 0) + props.ramps.length + (props.window ? 1 : 0);
  const H = 26 + lanes * laneHeight;
  const summary = [
    ...props.events.map((event) => `${event.label} on ${dateTime(event.date)}`),
    ...props.ramps.map((ramp) => `${ramp.label}: ${ramp.from}% to ${ramp.to}% from ${dateTime(ramp.start)} to ${dateTime(ramp.end)}`),
  ].join('; ');
  const ticks = [min + (max - min) * 0.1, min + (max - min) * 0.5, min + (max - min) * 0.9];
  let lane = 0;
  return (
    <svg class="timeline" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Timeline: ${summary}`}>
      <line x1={left} x2={W - left} y1={H - 18} y2={H - 18} class="axis" />
      {ticks.map((t) => (
        <text key={t} x={x(t)} y={H - 4} class="tick" text-anchor="middle">
          {new Date(t).toLocaleDateString('en', { month: 'short', day: 'numeric' })}
        </text>
      ))}
      {props.events.length > 0 &&
        (() => {
          const y = 10 + lane++ * laneHeight + 12;
          return (
            <g>
              <line x1={left} x2={W - left} y1={y} y2={y} class="lane" />
              {props.events.map((event, index) =>
                Number.isNaN(at(event.date)) ? null : (
                  <g key={index}>
                    <circle cx={x(at(event.date))} cy={y} r={6} class="step-dot" />
                    <text x={x(at(event.date)) + 9} y={y - 8} class="label">
                      {event.label}
                    </text>
                  </g>
                ),
              )}
            </g>
          );
        })()}
      {props.ramps.map((ramp, index) => {
        const y = 10 + lane++ * laneHeight;
        const start = at(ramp.start);
        const end = at(ramp.end);
        if (Number.isNaN(start) || Number.isNaN(end)) return null;
        const h = 24;
        const points = [
          [x(start), y + h],
          [x(start), y + h - (ramp.from / 100) * h],
          [x(end), y + h - (ramp.to / 100) * h],
          [x(end), y + h],
        ]
          .map((point) => point.join(','))
          .join(' ');
        return (
          <g key={`ramp-${index}`}>
            <line x1={left} x2={W - left} y1={y + h} y2={y + h} class="lane" />
            <polygon points={points} class="ramp" />
            <line x1={x(end)} x2={W - left} y1={y + h - (ramp.to / 100) * h} y2={y + h - (ramp.to / 100) * h} class="ramp-line" />
            <text x={x(start) + 4} y={y + 9} class="label">
              {ramp.label}: {ramp.from}% → {ramp.to}%
            </text>
          </g>
        );
      })}
      {props.window &&
        (() => {
          const y = 10 + lane++ * laneHeight + 6;
          const s = at(props.window.start);
          const e = at(props.window.end);
          const x1 = Number.isNaN(s) ? left : x(s);
          const x2 = Number.isNaN(e) ? W - left : x(e);
          return (
            <g>
              <rect x={x1} y={y} width={Math.max(2, x2 - x1)} height={14} class="window" />
              <text x={x1 + 4} y={y + 11} class="label">
                experiment
              </text>
            </g>
          );
        })()}
      <line x1={x(now)} x2={x(now)} y1={2} y2={H - 18} class="now" />
      <text x={x(now) + 4} y={H - 22} class="now-label">
        now
      </text>
    </svg>
  );
}
