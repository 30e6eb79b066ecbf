import { TextDecoder } from 'node:util';

/**
 * What a webhook body must be for the pipeline to accept it, checked the same way by the ingress (before the 200)
 * and by dedup (on every `zoom.webhooks.raw` record): whatever the ingress acknowledges, dedup can process. Zoom
 * never retries a 200, so a body acknowledged and then refused downstream would be lost.
 *
 * - UTF-8 (RFC 8259 §8.1), strictly: bad bytes are refused rather than turned into U+FFFD, which would give a payload
 *   that differs from what was signed.
 * - No byte order mark: RFC 8259 forbids sending one; `JSON.parse` refuses it while `TextDecoder` silently strips
 *   it, which is how the ingress once accepted bodies that dedup then dead-lettered.
 * - At most {@link MAX_JSON_DEPTH} nested objects/arrays: `JSON.parse` copes with thousands of levels but
 *   `JSON.stringify` and every recursive walk (canonical digest, CloudEvent) overflow the stack. Zoom's bodies
 *   nest about 5 levels.
 */
export const MAX_JSON_DEPTH = 64;

/** `body_not_json` here means bytes that are not UTF-8 (the code the ingress has always answered for them). */
export type JsonBodyFailure = 'body_not_json' | 'body_bom' | 'body_too_deep';

export type JsonBodyText = { ok: true; text: string } | { ok: false; reason: JsonBodyFailure };

// ignoreBOM: keep a leading U+FEFF in the text so we can refuse it, rather than strip it behind our back.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as text if it passes the rules above (JSON syntax itself is left to `JSON.parse`). */
export function jsonBodyText(raw: Buffer | string): JsonBodyText {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else {
    try {
      text = utf8.decode(raw);
    } catch {
      return { ok: false, reason: 'body_not_json' };
    }
  }
  if (text.charCodeAt(0) === 0xfeff) return { ok: false, reason: 'body_bom' };
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return { ok: false, reason: 'body_too_deep' };
  return { ok: true, text };
}

/**
 * Whether brackets outside strings nest deeper than `max`. One linear pass, no recursion and no parse, so it is
 * safe on any input; on text that is not JSON it may answer either way (JSON.parse refuses that text anyway).
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/** The HTTP message for each failure (SPEC §3); the codes are the `error` of a 400. */
export function describeJsonBodyFailure(reason: JsonBodyFailure): string {
  switch (reason) {
    case 'body_not_json':
      return 'the body is not a JSON object';
    case 'body_bom':
      return 'the body starts with a byte order mark (RFC 8259 forbids it); send UTF-8 JSON without one';
    case 'body_too_deep':
      return `the body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep`;
  }
}
