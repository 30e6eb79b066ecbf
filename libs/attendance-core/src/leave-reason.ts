const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/**
 * Zoom's `leave_reason` is display text with HTML, e.g. `"Dana left the meeting.<br>Reason: Host ended the
 * meeting."` or `"left the meeting. Reason : left the meeting with Unknown Failover Reason"`. Returns the text
 * after "Reason:" (tags and entities removed, whitespace collapsed, a trailing period dropped), or the whole
 * cleaned text when there is no "Reason:", or undefined when empty.
 */
export function parseLeaveReason(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const text = raw
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(amp|lt|gt|quot|apos|nbsp|#39);/g, (_, e: string) => ENTITIES[e])
    .replace(/\s+/g, ' ')
    .trim();
  const m = /\breason\s*:\s*(.*)$/i.exec(text);
  const reason = (m ? m[1] : text).trim().replace(/\.$/, '').trim();
  return reason === '' ? undefined : reason;
}
