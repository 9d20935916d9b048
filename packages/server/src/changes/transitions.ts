import type { ChangeRequest, ChangeRequestStatus } from '@vexil/store';
import { HttpError } from '../http/errors.js';
import { requireRoleOn } from '../auth/access.js';
import { actorOf, type Principal } from '../auth/keys.js';

/** What a reviewer or the author does to a change request. */
export type ReviewAction = 'approve' | 'reject' | 'withdraw';

/** From which statuses each action may start: applied, rejected and withdrawn requests are final. */
const ALLOWED_FROM: Record<ReviewAction, readonly ChangeRequestStatus[]> = {
  approve: ['pending'],
  reject: ['pending', 'conflicting'],
  withdraw: ['pending', 'conflicting'],
};

/** The status each action ends in when it succeeds (approve: `applied`, or `conflicting` when a base version moved). */
export const RESULT_OF: Record<ReviewAction, ChangeRequestStatus> = { approve: 'applied', reject: 'rejected', withdraw: 'withdrawn' };

/** Whether `principal` wrote the request: the author is an actor string `name (id)`, so the id decides, not the name. */
export function isAuthor(request: Pick<ChangeRequest, 'author'>, principal: Principal): boolean {
  return request.author === actorOf(principal) || request.author.endsWith(`(${principal.id})`);
}

/**
 * Throws unless `principal` may take `action` on `request` now:
 * - 409 `conflicting` (approve of a conflicting request: it says why) or 409 `not_pending` (a final request);
 * - approve and reject: editor or more on the request's environment (403 `forbidden`), and approve not by its
 *   author (403 `self_approval`);
 * - withdraw: its author only (403 `not_author`).
 */
export function checkReview(request: ChangeRequest, principal: Principal | undefined, action: ReviewAction): void {
  if (!principal) throw new HttpError(401, 'unauthorized', 'an API key is required: send it as X-API-Key or Authorization: Bearer <key>');
  const ref = { project: request.project, environment: request.environment };
  if (action === 'withdraw') {
    // Reading it needs the environment; withdrawing needs having written it.
    requireRoleOn(principal, ref, 'reader');
    if (!isAuthor(request, principal))
      throw new HttpError(403, 'not_author', `only its author (${request.author}) can withdraw change request ${request.id}`, { id: request.id });
  } else {
    requireRoleOn(principal, ref, 'editor');
    if (action === 'approve' && isAuthor(request, principal))
      throw new HttpError(403, 'self_approval', `change request ${request.id} is yours: another person with editor or more on ${ref.project}/${ref.environment} approves it`, {
        id: request.id,
      });
  }
  if (!ALLOWED_FROM[action].includes(request.status)) {
    if (action === 'approve' && request.status === 'conflicting')
      throw new HttpError(409, 'conflicting', `change request ${request.id} is conflicting: ${request.conflict ?? 'a flag changed since it was proposed'}`, { id: request.id, status: request.status });
    throw new HttpError(409, 'not_pending', `change request ${request.id} is ${request.status}: it cannot be ${action === 'approve' ? 'approved' : action === 'reject' ? 'rejected' : 'withdrawn'} any more`, {
      id: request.id,
      status: request.status,
    });
  }
}

/** The request after a review: status, and who, when and why. */
export function reviewed(request: ChangeRequest, status: ChangeRequestStatus, reviewer: string, comment: string | undefined, now: Date, extra: Partial<ChangeRequest> = {}): ChangeRequest {
  return {
    ...request,
    ...extra,
    status,
    reviewer,
    reviewedAt: now.toISOString(),
    ...(comment !== undefined && comment !== '' ? { reviewComment: comment } : {}),
  };
}

/** The audit reason of an applied request: names the request, its author and its reviewer, then the author's reason. */
export function appliedReason(request: ChangeRequest, reviewer: string): string {
  const base = `change request ${request.id} by ${request.author}, approved by ${reviewer}`;
  return (request.reason ? `${base}: ${request.reason}` : base).slice(0, 2000);
}
