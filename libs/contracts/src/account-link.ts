import { ContractViolation, asObject, encodeJson, parseJson, str } from './validate';

/**
 * Value of `zoom.accounts.links` (compacted, key = Zoom user id): the latest state of one Zoom user's link to an
 * app user. No tokens, no email.
 */
export interface AccountLinkEvent {
  zoomUserId: string;
  accountId: string;
  appUserId: string;
  status: 'linked' | 'needs_reauth' | 'revoked';
  /** ISO-8601 time of the change. */
  at: string;
}

const C = 'AccountLinkEvent';
const STATUSES: ReadonlySet<string> = new Set(['linked', 'needs_reauth', 'revoked']);

export function encodeAccountLinkEvent(event: AccountLinkEvent): Buffer {
  return encodeJson(event);
}

export function parseAccountLinkEvent(bytes: Buffer | string): AccountLinkEvent {
  const o = asObject(C, '(value)', parseJson(C, bytes));
  const status = str(C, o, 'status');
  if (!STATUSES.has(status)) throw new ContractViolation(C, 'status', 'must be linked, needs_reauth or revoked');
  const at = str(C, o, 'at');
  if (Number.isNaN(Date.parse(at))) throw new ContractViolation(C, 'at', 'must be an ISO-8601 time');
  return {
    zoomUserId: str(C, o, 'zoomUserId'),
    accountId: str(C, o, 'accountId'),
    appUserId: str(C, o, 'appUserId'),
    status: status as AccountLinkEvent['status'],
    at,
  };
}
