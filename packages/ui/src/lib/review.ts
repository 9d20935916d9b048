// A write to an environment that requires approval becomes a change request: the page says "Sent for review" (not
// "Saved") and links to it.
import type { ChangeRequest } from './api.js';
import { links } from './router.js';
import { toast } from './toast.js';

export function announceSentForReview(what: string, request: ChangeRequest): void {
  toast(`Sent for review: ${what}`, 'ok', { href: links.change(request.id), text: 'Open the change request' });
}
