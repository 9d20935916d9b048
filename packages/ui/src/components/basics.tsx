import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { dismiss, subscribe, type Toast } from '../lib/toast.js';
import { percentText } from '../lib/split.js';

/** An on/off switch: a button with role "switch", so it is reachable and operable from the keyboard. */
export function Switch(props: { on: boolean; label: string; onChange: (on: boolean) => void; disabled?: boolean; id?: string; showText?: boolean }) {
  return (
    <button
      type="button"
      role="switch"
      id={props.id}
      class="switch"
      aria-checked={props.on}
      aria-label={props.label}
      disabled={props.disabled}
      onClick={() => props.onChange(!props.on)}
    >
      <span class="switch-track" aria-hidden="true">
        <span class="switch-thumb" />
      </span>
      {props.showText !== false && <span class="switch-text">{props.on ? 'On' : 'Off'}</span>}
    </button>
  );
}

/** A modal dialog on the native <dialog> element (focus trap, Escape and backdrop for free). */
export function Dialog(props: { open: boolean; title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      class={props.wide ? 'dialog wide' : 'dialog'}
      aria-labelledby="dialog-title"
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
    >
      {props.open && (
        <>
          <header class="dialog-head">
            <h2 id="dialog-title">{props.title}</h2>
            <button type="button" class="icon-button" aria-label="Close" onClick={props.onClose}>
              ×
            </button>
          </header>
          <div class="dialog-body">{props.children}</div>
        </>
      )}
    </dialog>
  );
}

export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Dialog open={props.open} title={props.title} onClose={props.onCancel}>
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          props.onConfirm();
        }}
      >
        {props.children}
        <div class="actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={props.busy}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

const PALETTE = ['#2f5bd3', '#e07a1f', '#1c9a6c', '#b0358f', '#7a59d6', '#c23b3b', '#3a8fb7', '#8c8c2a'];

export function variationColor(index: number): string {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

/** A stacked bar of a split; `shares` in percent. */
export function SplitBar(props: { shares: Array<{ variation: string; percent: number }>; order: string[]; compact?: boolean }) {
  const label = props.shares.map((share) => `${share.variation} ${percentText(Math.round(share.percent * 100))}`).join(', ');
  return (
    <div class={props.compact ? 'split-bar compact' : 'split-bar'} role="img" aria-label={`Split: ${label}`} title={label}>
      {props.shares
        .filter((share) => share.percent > 0)
        .map((share) => (
          <span
            key={share.variation}
            style={{ width: `${share.percent}%`, background: variationColor(props.order.indexOf(share.variation)) }}
          >
            {!props.compact && share.percent >= 12 ? `${share.variation} ${Math.round(share.percent)}%` : ''}
          </span>
        ))}
    </div>
  );
}

export function VariationChip(props: { name: string; order: string[] }) {
  return (
    <span class="chip">
      <span class="dot" style={{ background: variationColor(props.order.indexOf(props.name)) }} aria-hidden="true" />
      {props.name}
    </span>
  );
}

/** The messages for one field, in words, next to the field. `id` is what the field's aria-describedby points at. */
export function FieldErrors(props: { id: string; messages: Array<{ message: string; severity?: 'error' | 'warning' }> | undefined }) {
  if (!props.messages?.length) return null;
  return (
    <ul class="field-errors" id={props.id}>
      {props.messages.map((problem, index) => (
        <li key={index} class={problem.severity === 'warning' ? 'warning' : 'error'}>
          {problem.severity === 'warning' ? 'Warning: ' : ''}
          {problem.message}
        </li>
      ))}
    </ul>
  );
}

export function ErrorBox(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <div class="error-box" role="alert">
      {props.title && <strong>{props.title}: </strong>}
      {message}
    </div>
  );
}

export function Toasts() {
  const [items, setItems] = useState<Toast[]>([]);
  useEffect(() => subscribe(setItems), []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((item) => (
        <div key={item.id} class={`toast ${item.kind}`}>
          <span>
            {item.text}
            {item.link && (
              <>
                {' '}
                <a href={item.link.href}>{item.link.text}</a>
              </>
            )}
          </span>
          <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => dismiss(item.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {props.what}…
    </p>
  );
}
