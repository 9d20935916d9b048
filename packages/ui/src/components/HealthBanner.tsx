import { useEffect, useState } from 'preact/hooks';
import { call } from '../lib/api.js';

/** What `/admin/v1/health` says about the flag files being served (absent when they are fine). */
interface FlagFilesHealth {
  errors: number;
  problems: string[];
}

/** What `/admin/v1/health` says about the store. */
export interface StoreHealth {
  kind: string;
  writable: boolean;
}

const POLL_MS = 5_000;

/**
 * A banner while a flag file being served has errors (`/admin/v1/health` → `flagFiles`): the server keeps the last good
 * flags, which would otherwise go unnoticed. Polls the detailed health (the public `/health` says only ok or degraded)
 * and clears itself once the files are fixed.
 */
export function HealthBanner(props: { onStore?: (store: StoreHealth) => void }) {
  const [files, setFiles] = useState<FlagFilesHealth | undefined>(undefined);
  const [store, setStore] = useState<StoreHealth>();

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async (): Promise<void> => {
      try {
        const body = (await call<{ flagFiles?: FlagFilesHealth; store?: Partial<StoreHealth> }>('GET', '/admin/v1/health', { quietUnauthorized: true })).data;
        if (stopped) return;
        setFiles(body.flagFiles && body.flagFiles.errors > 0 ? body.flagFiles : undefined);
        if (body.store && typeof body.store.writable === 'boolean') {
          const next = { kind: String(body.store.kind ?? 'store'), writable: body.store.writable };
          setStore((before) => (before?.kind === next.kind && before.writable === next.writable ? before : next));
        }
      } catch {
        // the server is away: the pages say so on their own calls
      }
      if (!stopped) timer = setTimeout(() => void check(), POLL_MS);
    };
    void check();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  useEffect(() => {
    if (store) props.onStore?.(store);
  }, [store]);

  // Said once, at the top, so that nobody edits a flag only to be refused after the confirmation.
  const readOnly = store && !store.writable && (
    <div class="read-only-banner" role="status">
      <strong>Read-only: </strong>
      {store.kind === 'file' ? 'this server serves flag files, so flags are changed in the files (and their repository), not here.' : `the ${store.kind} store is read-only: flags cannot be changed here.`}
    </div>
  );
  if (!files) return readOnly || null;
  const more = files.errors - files.problems.length;
  return (
    <>
    {readOnly}
    <div class="health-banner" role="alert">
      <strong>
        {files.errors === 1 ? 'A flag file has an error' : `Flag files have ${files.errors} errors`}: the server keeps serving the last good flags
        until it is fixed.
      </strong>
      <ul>
        {files.problems.map((problem) => (
          <li key={problem} class="mono">
            {problem}
          </li>
        ))}
        {more > 0 && <li>… and {more} more (see the server log)</li>}
      </ul>
    </div>
    </>
  );
}
