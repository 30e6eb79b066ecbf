import { Inject, Injectable, Optional } from '@nestjs/common';
import { ATTENDANCE_STORE, type AttendanceStore } from '@zoom-pipeline/attendance-store';
import { HttpError, LOGGER } from '@zoom-pipeline/service-kit';
import type { Logger } from '@zoom-pipeline/telemetry';
import { ZOOM_API, type ZoomApiClient, ZoomApiError } from '@zoom-pipeline/zoom-api';
import { meetingIdField, requestFields } from './request-fields';

/** `POST /attendance/registrations`: who to register for which meeting, as which app user. */
export interface RegistrationRequest {
  meetingId: string;
  appUserId: string;
  email: string;
  firstName: string;
  lastName?: string;
}

export interface RegistrationResult {
  meetingId: string;
  appUserId: string;
  registrantId: string;
  /** The registrant's own join link: hand it to that app user only. */
  joinUrl: string;
}

export function parseRegistrationRequest(body: unknown): RegistrationRequest {
  const field = requestFields(body);
  const meetingId = meetingIdField(field);
  const email = field('email', true)!;
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new HttpError(400, 'bad_request', 'email is not an email address');
  const lastName = field('lastName', false);
  return {
    meetingId,
    appUserId: field('appUserId', true)!,
    email,
    firstName: field('firstName', true)!,
    ...(lastName !== undefined ? { lastName } : {}),
  };
}

/**
 * Registers an app user for a meeting through Zoom's registrants API (S2S token, the process's request budget and
 * 429 handling in libs/zoom-api) and maps the registrant to the app user, so their sessions carry the app user id.
 * Zoom's refusals become HTTP errors with Zoom's status and numeric code; Zoom's message (it may echo the input)
 * and the token never appear.
 */
@Injectable()
export class AttendanceRegistrar {
  constructor(
    @Inject(ATTENDANCE_STORE) private readonly store: AttendanceStore,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(ZOOM_API) private readonly zoom?: ZoomApiClient,
  ) {}

  async register(r: RegistrationRequest): Promise<RegistrationResult> {
    if (!this.zoom)
      throw new HttpError(
        503,
        'zoom_api_not_configured',
        'registering needs the Server-to-Server OAuth credentials ' +
          '(ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET)',
      );
    let registrant;
    try {
      registrant = await this.zoom.addMeetingRegistrant(r.meetingId, {
        email: r.email,
        firstName: r.firstName,
        ...(r.lastName !== undefined ? { lastName: r.lastName } : {}),
      });
    } catch (err) {
      throw this.refusal(err, r.meetingId);
    }
    await this.store.putRegistration({
      meetingId: r.meetingId,
      kind: 'registrant',
      value: registrant.registrantId,
      appUserId: r.appUserId,
    });
    return { meetingId: r.meetingId, appUserId: r.appUserId, ...registrant };
  }

  private refusal(err: unknown, meetingId: string): HttpError {
    if (!(err instanceof ZoomApiError)) {
      // The S2S token request failed (network, credentials): its errors carry no secret.
      this.logger.warn({ meetingId, error: (err as Error).message }, 'attendance: Zoom registration failed');
      return new HttpError(502, 'zoom_unavailable', 'could not reach Zoom to register (S2S token or network)');
    }
    const { status, zoomCode } = err.details;
    this.logger.warn({ meetingId, code: err.code, status, zoomCode }, 'attendance: Zoom refused the registration');
    const code = zoomCode !== undefined ? `, Zoom code ${zoomCode}` : '';
    if (err.code === 'zoom_api_rejected' && status === 404)
      return new HttpError(404, 'zoom_meeting_not_found', `Zoom has no meeting ${meetingId} (HTTP 404${code})`);
    if (err.code === 'zoom_api_rejected')
      return new HttpError(
        422,
        'zoom_registration_refused',
        `Zoom refused the registration (HTTP ${status}${code}), e.g. registration is not enabled for this meeting`,
      );
    if (err.code === 'zoom_api_unauthorized')
      return new HttpError(502, 'zoom_unauthorized', 'Zoom refused the S2S access token (check the app scopes)');
    if (err.code === 'zoom_api_unavailable')
      return new HttpError(503, 'zoom_unavailable', 'Zoom did not answer; try again later', { 'retry-after': '5' });
    return new HttpError(502, 'zoom_invalid_answer', 'Zoom answered without a registrant id and join URL');
  }
}
