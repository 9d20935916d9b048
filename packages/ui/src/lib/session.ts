// The admin key lives in sessionStorage only: gone when the tab closes, never in the URL or in localStorage.
const KEY = 'vexil.adminKey';

export function readKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
