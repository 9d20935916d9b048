// Change requests of the page's project: writes to environments that require approval, waiting for another person.
import { useEffect, useState } from 'preact/hooks';
import type { ChangeRequest } from '../lib/api.js';
import { environmentsApi } from '../lib/environments-api.js';
import { dateTime, plural, timeAgo } from '../lib/format.js';
import { links } from '../lib/router.js';
import { isAuthor, useRights } from '../lib/rights.js';
import { useScope } from '../lib/scope.js';
import { ErrorBox, Loading } from '../components/basics.js';

/** The author's name without the key id (`ci (k_12ab)` → `ci`). */
export function actorName(actor: string): string {
  return actor.replace(/ \([^()]*\)$/, '');
}

export function StatusBadge(props: { status: ChangeRequest['status'] }) {
  return <span class={`badge status-${props.status}`}>{props.status}</span>;
}

export function PendingChangesPage(props: { all: boolean }) {
  const scope = useScope();
  const rights = useRights();
  const [changes, setChanges] = useState<ChangeRequest[]>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    environmentsApi.changes({ project: scope.project, ...(props.all ? {} : { status: 'pending' }) }).then(
      (list) => setChanges([...list].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))),
      setError,
    );
  }, [scope.project, props.all]);

  return (
    <section aria-labelledby="changes-title">
      <div class="page-head">
        <h1 id="changes-title" tabIndex={-1}>
          {props.all ? 'Change requests' : 'Pending changes'}
        </h1>
        <a class="button" href={links.changes(!props.all)}>
          {props.all ? 'Pending only' : 'All, including decided'}
        </a>
      </div>
      <p class="help">
        Writes to environments that require approval (project {scope.project}) wait here until another person with the editor role approves them.
      </p>
      <ErrorBox error={error} title="Cannot load the change requests" />
      {!changes && !error && <Loading what="change requests" />}
      {changes && changes.length === 0 && <p class="empty">{props.all ? 'No change requests in this project.' : 'Nothing waiting for review.'}</p>}
      {changes && changes.length > 0 && (
        <div class="table-wrap">
          <table class="changes">
            <thead>
              <tr>
                <th scope="col">Change</th>
                <th scope="col">Environment</th>
                <th scope="col">Author</th>
                <th scope="col">Proposed</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((request) => (
                <tr key={request.id}>
                  <th scope="row">
                    <a href={links.change(request.id)}>
                      {request.changes.map((change) => `${change.action === 'delete' ? 'delete ' : ''}${change.key}`).join(', ') || request.id}
                    </a>
                    {request.reason && <div class="muted small ellipsis">“{request.reason}”</div>}
                  </th>
                  <td>{request.environment}</td>
                  <td>
                    {actorName(request.author)}
                    {rights.me && isAuthor(rights.me, request.author) && <span class="muted small"> (you)</span>}
                  </td>
                  <td>
                    <time dateTime={request.createdAt} title={dateTime(request.createdAt)}>
                      {timeAgo(request.createdAt)}
                    </time>
                  </td>
                  <td>
                    <StatusBadge status={request.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted small count">{plural(changes.length, 'change request')}</p>
        </div>
      )}
    </section>
  );
}
