import { HttpError } from '@zoom-pipeline/service-kit';

const MAX = 256;

/** A JSON object body's string fields, each trimmed, non-empty and at most 256 characters; 400 `bad_request` else. */
export function requestFields(body: unknown): (name: string, required: boolean) => string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  const o = body as Record<string, unknown>;
  return (name, required) => {
    const v = o[name];
    if (v === undefined || v === null) {
      if (required) throw new HttpError(400, 'bad_request', `${name} is required`);
      return undefined;
    }
    const s = typeof v === 'number' && name === 'meetingId' ? String(v) : v;
    if (typeof s !== 'string' || s.trim() === '' || s.length > MAX)
      throw new HttpError(400, 'bad_request', `${name} must be a non-empty string of at most ${MAX} characters`);
    return s.trim();
  };
}

/** Zoom's numeric meeting id (a number or a string of digits in the body). */
export function meetingIdField(field: (name: string, required: boolean) => string | undefined): string {
  const meetingId = field('meetingId', true)!;
  if (!/^\d+$/.test(meetingId)) throw new HttpError(400, 'bad_request', "meetingId must be Zoom's numeric meeting id");
  return meetingId;
}
