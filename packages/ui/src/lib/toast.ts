// Short confirmations ("Saved version 4"), announced politely to screen readers.
export interface Toast {
  id: number;
  text: string;
  kind: 'ok' | 'error';
  /** A link to follow up, e.g. the change request a write became. */
  link?: { href: string; text: string };
}

type Listener = (toasts: Toast[]) => void;
let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<Listener>();

export function toast(text: string, kind: Toast['kind'] = 'ok', link?: Toast['link']): void {
  const id = nextId++;
  toasts = [...toasts, { id, text, kind, ...(link ? { link } : {}) }];
  emit();
  setTimeout(() => dismiss(id), kind === 'error' || link ? 8000 : 4000);
}

export function dismiss(id: number): void {
  toasts = toasts.filter((item) => item.id !== id);
  emit();
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  listener(toasts);
  return () => listeners.delete(listener);
}

function emit(): void {
  for (const listener of listeners) listener(toasts);
}
