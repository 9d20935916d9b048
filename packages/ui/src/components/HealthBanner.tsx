import { useEffect, useState } from 'preact/hooks';

/** What `/health` says about the flag files being served (absent when they are fine). */
interface FlagFilesHealth {
  errors: number;
  problems: string[];
}

const POLL_MS = 5_000;

/**
 * A banner while a flag file being served has errors (`/health` → `flagFiles`): the server keeps the last good flags,
 * which would otherwise go unnoticed. Polls `/health` (no key needed) and clears itself once the files are fixed.
 */
export function HealthBanner() {
  const [files, setFiles] = useState<FlagFilesHealth | undefined>(undefined);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async (): Promise<void> => {
      try {
        const response = await fetch('/health', { headers: { accept: 'application/json' } });
        const body = (await response.json()) as { flagFiles?: FlagFilesHealth };
        if (!stopped) setFiles(body.flagFiles && body.flagFiles.errors > 0 ? body.flagFiles : undefined);
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

  if (!files) return null;
  const more = files.errors - files.problems.length;
  return (
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
  );
}
