import { Controller, Get, HttpCode, Inject, Param, Post, Put, Req } from '@nestjs/common';
import {
  ATTENDANCE_STORE,
  type AttendanceStore,
  type MeetingView,
  type Registration,
} from '@zoom-pipeline/attendance-store';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { HttpError, authorizeAdminRequest } from '@zoom-pipeline/service-kit';
import type { FastifyRequest } from 'fastify';
import { AttendanceRegistrar, type RegistrationResult, parseRegistrationRequest } from './attendance-registrar';
import { meetingIdField, requestFields } from './request-fields';

/**
 * Validates `PUT /attendance/registrants`: `{meetingId, appUserId}` and exactly one of registrantId, customerKey,
 * email.
 */
export function parseRegistration(body: unknown): Registration {
  const field = requestFields(body);
  const meetingId = meetingIdField(field);
  const appUserId = field('appUserId', true)!;
  const given = (
    [
      ['registrant', field('registrantId', false)],
      ['customer_key', field('customerKey', false)],
      ['email', field('email', false)],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length !== 1)
    throw new HttpError(400, 'bad_request', 'give exactly one of registrantId, customerKey, email');
  const [kind, value] = given[0];
  if (kind === 'email' && !/^[^\s@]+@[^\s@]+$/.test(value!))
    throw new HttpError(400, 'bad_request', 'email is not an email address');
  return { meetingId, kind, value: kind === 'email' ? value!.toLowerCase() : value!, appUserId };
}

/** The apps read bodies as raw bytes (service-kit); this route takes JSON. */
function jsonBody(req: FastifyRequest): unknown {
  if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? '')))
    throw new HttpError(415, 'unsupported_media_type', 'the content type must be application/json');
  const raw = req.body;
  try {
    return JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '');
  } catch {
    throw new HttpError(400, 'bad_request', 'the body is not JSON');
  }
}

/**
 * Who may call the attendance endpoints: the product's backend with `Authorization: Bearer <ATTENDANCE_API_TOKEN>`,
 * or, without that setting, loopback clients only. In standalone this port also faces Zoom, and these endpoints map
 * registrants to app users and say who attended.
 */
export function authorizeAttendance(req: FastifyRequest, token: string | undefined): void {
  authorizeAdminRequest(req, { token, setting: 'ATTENDANCE_API_TOKEN', what: 'the attendance endpoints' });
}

@Controller('attendance')
export class AttendanceController {
  private readonly apiToken: string | undefined;

  constructor(
    @Inject(ATTENDANCE_STORE) private readonly store: AttendanceStore,
    private readonly registrar: AttendanceRegistrar,
    @Inject(CONFIG) config: AppConfig,
  ) {
    this.apiToken = config.attendance.apiToken;
  }

  /**
   * The product says who a registrant / customer key / email of a meeting is; applies to sessions emitted from now on.
   */
  @Put('registrants')
  @HttpCode(200)
  async putRegistrant(@Req() req: FastifyRequest): Promise<Registration> {
    authorizeAttendance(req, this.apiToken);
    const r = parseRegistration(jsonBody(req));
    await this.store.putRegistration(r);
    return r;
  }

  /**
   * Registers the app user for the meeting with Zoom (registrants API) and maps the registrant to them; returns the
   * registrant id and their own `join_url`.
   */
  @Post('registrations')
  @HttpCode(201)
  register(@Req() req: FastifyRequest): Promise<RegistrationResult> {
    authorizeAttendance(req, this.apiToken);
    return this.registrar.register(parseRegistrationRequest(jsonBody(req)));
  }

  /** Sessions emitted so far and, once the meeting ended, its summary. The UUID is URL-encoded once in the path. */
  @Get('meetings/:uuid')
  async meeting(@Req() req: FastifyRequest, @Param('uuid') uuid: string): Promise<MeetingView> {
    authorizeAttendance(req, this.apiToken);
    const view = await this.store.meeting(uuid);
    if (!view)
      throw new HttpError(
        404,
        'meeting_not_found',
        'no attendance recorded for this meeting UUID (yet); URL-encode the UUID once',
      );
    return view;
  }
}
