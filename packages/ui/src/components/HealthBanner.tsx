import { useEffect, useState } from 'preact/hooks';

/** What `/health` says about the flag files being served (absent when they are fine). */
interface FlagFilesHealth {
  errors: number;
  problems: string[];
}

/** What `/health` says about the store. */
export interface StoreHealth {
  kind: string;
  writable: boolean;
}

const POLL_MS = 5_000;

/**
 * A banner while a flag file being served has errors (`/health` → `flagFiles`): the server keeps the last good flags,
 * which would otherwise go unnoticed. Polls `/health` (no key needed) and clears itself once the files are fixed.
 */
export function HealthBanner(props: { onStore?: (store: StoreHealth) => void }) {
  const [files, setFiles] = useState<FlagFilesHealth | undefined>(undefined);
  const [store, setStore] = useState<StoreHealth>();

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async (): Promise<void> => {
      try {
        const response = await fetch('/health', { headers: { accept: 'application/json' } });
        const body = (await response.json()) as { flagFiles?: FlagFilesHealth; store?: Partial<StoreHealth> };
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
