import { fromUnits, percentText, setShare, toUnits, TOTAL, type Units } from '../lib/split.js';
import { SplitBar, variationColor } from './basics.js';

/**
 * A percentage split as one slider per variation. Moving one spreads the difference over the others, so the split
 * always sums to exactly 100 %.
 */
export function SplitEditor(props: {
  id: string;
  names: string[];
  percentage: Record<string, number> | undefined;
  onChange: (percentage: Record<string, number>) => void;
}) {
  const units = toUnits(props.percentage, props.names);
  const update = (next: Units) => props.onChange(fromUnits(next));
  const shares = props.names.map((name) => ({ variation: name, percent: (units[name] ?? 0) / 100 }));
  return (
    <fieldset class="split-editor">
      <legend>Percentage split</legend>
      <SplitBar shares={shares} order={props.names} />
      {props.names.map((name, index) => {
        const id = `${props.id}-${index}`;
        const value = units[name] ?? 0;
        return (
          <div class="split-row" key={name}>
            <label for={id}>
              <span class="dot" style={{ background: variationColor(index) }} aria-hidden="true" />
              {name}
            </label>
            <input
              id={id}
              type="range"
              min={0}
              max={100}
              step={1}
              value={value / 100}
              aria-valuetext={percentText(value)}
              onInput={(event) => update(setShare(units, name, Number(event.currentTarget.value) * 100))}
            />
            <input
              type="number"
              class="percent"
              min={0}
              max={100}
              step={0.01}
              value={value / 100}
              aria-label={`${name} percentage`}
              onChange={(event) => {
                const number = Number(event.currentTarget.value);
                if (Number.isFinite(number)) update(setShare(units, name, Math.round(number * 100)));
              }}
            />
            <span aria-hidden="true">%</span>
          </div>
        );
      })}
      <div class="split-foot">
        <span class="muted small">Total {percentText(Object.values(units).reduce((a, b) => a + b, 0))}</span>
        <button
          type="button"
          class="link-button"
          onClick={() => {
            const even = Math.floor(TOTAL / props.names.length);
            const next: Units = {};
            props.names.forEach((name, index) => (next[name] = even + (index < TOTAL - even * props.names.length ? 1 : 0)));
            update(next);
          }}
        >
          Split evenly
        </button>
      </div>
    </fieldset>
  );
}
