// One change request: what it changes (before → after per flag), who proposed it, and the review. Approving is offered
// to others with the editor role there, never to the author; a request whose flags moved meanwhile is conflicting.
import { useEffect, useState } from 'preact/hooks';
import type { ChangeRequest } from '../lib/api.js';
import { ApiError } from '../lib/api.js';
import { environmentsApi } from '../lib/environments-api.js';
import { dateTime, timeAgo } from '../lib/format.js';
import { links } from '../lib/router.js';
import { isAuthor, roleAtLeast, roleOn, useRights } from '../lib/rights.js';
import { toast } from '../lib/toast.js';
import { ErrorBox, Loading } from '../components/basics.js';
import { DiffView } from '../components/DiffView.js';
import { actorName, StatusBadge } from './PendingChanges.js';

type Decision = 'approve' | 'reject' | 'withdraw';

const DONE: Record<Decision, string> = { approve: 'Approved and applied', reject: 'Rejected', withdraw: 'Withdrawn' };

export function ChangeRequestPage(props: { id: string }) {
  const rights = useRights();
  const [request, setRequest] = useState<ChangeRequest>();
  const [error, setError] = useState<unknown>();
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [decisionError, setDecisionError] = useState<unknown>();

  useEffect(() => {
    environmentsApi.change(props.id).then(setRequest, setError);
  }, [props.id]);

  async function decide(decision: Decision) {
    if (!request) return;
    setBusy(true);
    setDecisionError(undefined);
    try {
      const decided = await environmentsApi.review(request.id, decision, comment.trim() || undefined);
      setRequest(decided);
      setComment('');
      toast(`${DONE[decision]}: ${request.changes.map((change) => change.key).join(', ')}`);
    } catch (failure) {
      setDecisionError(failure);
      // A conflict or another reviewer's decision changed the request: show it as it is now.
      if (failure instanceof ApiError && failure.status === 409) environmentsApi.change(request.id).then(setRequest, () => undefined);
    } finally {
      setBusy(false);
    }
  }

  if (error) return <ErrorBox error={error} title="Cannot load the change request" />;
  if (!request) return <Loading what="the change request" />;
  const mine = rights.me !== undefined && isAuthor(rights.me, request.author);
  const role = rights.me ? roleOn(rights.me, request) : undefined;
  const canReview = request.status === 'pending' && !mine && roleAtLeast(role, 'editor');
  return (
    <section aria-labelledby="change-title" class="change-request">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href={links.changes()}>Pending changes</a> /
          </p>
          <h1 id="change-title" tabIndex={-1}>
            Change request <StatusBadge status={request.status} />
          </h1>
          <p class="muted small">
            {request.project}/{request.environment} · proposed by <strong>{actorName(request.author)}</strong>
            {mine ? ' (you)' : ''} <time title={dateTime(request.createdAt)}>{timeAgo(request.createdAt)}</time>
            {request.reviewer && (
              <>
                {' · '}
                {request.status === 'applied' ? 'approved' : request.status === 'rejected' ? 'rejected' : 'reviewed'} by <strong>{actorName(request.reviewer)}</strong>{' '}
                <time title={dateTime(request.reviewedAt)}>{timeAgo(request.reviewedAt)}</time>
              </>
            )}
          </p>
        </div>
      </div>
      {request.reason && <p class="reason">“{request.reason}”</p>}
      {request.reviewComment && (
        <p class="review-comment">
          Review comment: “{request.reviewComment}”
        </p>
      )}
      {request.status === 'conflicting' && (
        <div class="error-box conflicting" role="alert">
          <strong>Conflicting: </strong>
          {request.conflict ?? 'a flag changed since this request was made'}. Nothing was applied; propose the change again on the current version.
        </div>
      )}
      {request.changes.map((change) => (
        <section class="card" key={change.key} aria-label={`Change to ${change.key}`}>
          <h2>
            <a href={links.flag(change.key)} class="mono">
              {change.key}
            </a>{' '}
            <span class={`badge action-${change.action === 'delete' ? 'delete' : change.before ? 'update' : 'create'}`}>
              {change.action === 'delete' ? 'delete' : change.before ? 'update' : 'create'}
            </span>
          </h2>
          <p class="muted small">{change.baseVersion === 0 ? 'A new flag.' : `Written against version ${change.baseVersion}.`}</p>
          <DiffView before={change.before ?? {}} after={change.after ?? {}} label={`Changes to ${change.key}`} />
        </section>
      ))}
      <ErrorBox error={decisionError} title="Not done" />
      {request.status === 'pending' && (
        <form class="card review" onSubmit={(event) => event.preventDefault()} aria-label="Review">
          <h2>Review</h2>
          {mine && <p class="muted">You proposed this change: another person with the editor role approves it.</p>}
          {!mine && !canReview && <p class="muted">Your role in {request.project}/{request.environment} does not allow reviewing it.</p>}
          {(canReview || mine) && (
            <>
              <label for="review-comment">Comment</label>
              <textarea id="review-comment" rows={2} value={comment} onInput={(event) => setComment(event.currentTarget.value)} />
              <div class="actions start">
                {canReview && (
                  <>
                    <button type="button" class="primary" disabled={busy} onClick={() => void decide('approve')}>
                      Approve and apply
                    </button>
                    <button type="button" class="danger" disabled={busy} onClick={() => void decide('reject')}>
                      Reject
                    </button>
                  </>
                )}
                {mine && (
                  <button type="button" disabled={busy} onClick={() => void decide('withdraw')}>
                    Withdraw
                  </button>
                )}
              </div>
            </>
          )}
        </form>
      )}
    </section>
  );
}
