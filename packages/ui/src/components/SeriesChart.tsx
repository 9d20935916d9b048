// A time-series chart (uPlot: small, fast, canvas): one line per variation, with a legend and a text summary for
// screen readers.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { variationColor } from './basics.js';

export interface SeriesChartProps {
  title: string;
  /** Unix seconds. */
  x: number[];
  series: Array<{ label: string; values: Array<number | null>; colorIndex: number }>;
  /** What a value is, for the axis and the summary (e.g. "evaluations"). */
  unit: string;
  height?: number;
}

export function SeriesChart(props: SeriesChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const width = Math.max(320, element.clientWidth || 640);
    const chart = new uPlot(
      {
        width,
        height: props.height ?? 220,
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: variationColor(s.colorIndex),
            width: 2,
            points: { show: props.x.length < 40 },
          })),
        ],
        axes: [{}, { label: props.unit, size: 60 }],
        scales: { x: { time: true } },
        legend: { show: true },
      },
      [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      element,
    );
    const resize = () => chart.setSize({ width: Math.max(320, element.clientWidth), height: props.height ?? 220 });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      chart.destroy();
    };
  }, [props.x, props.series, props.unit, props.height]);
  const totals = props.series.map((s) => `${s.label}: ${s.values.reduce<number>((sum, v) => sum + (v ?? 0), 0).toLocaleString('en')}`).join(', ');
  return (
    <figure class="chart card">
      <figcaption>{props.title}</figcaption>
      <div ref={holder} class="chart-canvas" role="img" aria-label={`${props.title}. Totals over the range: ${totals || 'none'}`} />
    </figure>
  );
}
