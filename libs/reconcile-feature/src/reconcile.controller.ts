import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { HttpError, authorizeAdminRequest } from '@zoom-pipeline/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RedriveService, type RedriveSummary } from './redrive.service';
import {
  ReconcileBusyError,
  type ReconcileRequest,
  type ReconcileRun,
  ReconcileService,
  ReconcileUnavailableError,
} from './reconcile.service';

/**
 * On-demand reconcile and redrive (the CLI's `backfill` and `redrive` call these):
 * POST /reconcile/runs            {from?, to?, users?, dryRun?}  202 the run (poll GET /reconcile/runs/:id);
 * ?wait=true: 200 when done
 *   GET  /reconcile/runs/last | /reconcile/runs/:id
 *   POST /reconcile/redrives        {reason?, meetingUuid?, dryRun?}  200 the summary
 * Only loopback clients (the CLI on the host, `kubectl port-forward`), or any client with
 * `Authorization: Bearer <RECONCILE_ADMIN_TOKEN>` when that is set: in standalone this port also faces Zoom.
 */
@Controller('reconcile')
export class ReconcileController {
  private readonly adminToken: string | undefined;

  constructor(
    private readonly reconcile: ReconcileService,
    private readonly redrives: RedriveService,
    @Inject(CONFIG) config: AppConfig,
  ) {
    this.adminToken = config.reconcile.adminToken;
  }

  @Post('runs')
  async startRun(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query('wait') wait?: string,
  ): Promise<ReconcileRun> {
    authorize(req, this.adminToken);
    const body = jsonBody(req);
    const request: ReconcileRequest = {
      from: optionalString(body, 'from'),
      to: optionalString(body, 'to'),
      users: optionalStrings(body, 'users'),
      dryRun: body.dryRun === true,
    };
    let run: ReconcileRun;
    try {
      run = await this.reconcile.start(request, 'api');
    } catch (err) {
      throw mapError(err);
    }
    if (wait === 'true' || wait === '1') {
      void reply.code(200);
      return (await this.reconcile.wait(run.runId)) ?? run;
    }
    // Accepted, not finished: poll GET /reconcile/runs/:id.
    void reply.code(202);
    return run;
  }

  @Get('runs/last')
  last(@Req() req: FastifyRequest): ReconcileRun {
    authorize(req, this.adminToken);
    const run = this.reconcile.last();
    if (run === undefined)
      throw new HttpError(404, 'no_reconcile_run', 'no reconcile has run in this process since it started');
    return run;
  }

  @Get('runs/:id')
  one(@Req() req: FastifyRequest, @Param('id') id: string): ReconcileRun {
    authorize(req, this.adminToken);
    const run = this.reconcile.get(id);
    if (run === undefined)
      throw new HttpError(
        404,
        'unknown_reconcile_run',
        'no such reconcile run in this process (only the last 20 are kept)',
      );
    return run;
  }

  @Post('redrives')
  @HttpCode(200)
  async redrive(@Req() req: FastifyRequest): Promise<RedriveSummary> {
    authorize(req, this.adminToken);
    const body = jsonBody(req);
    try {
      return await this.redrives.redrive({
        reason: optionalString(body, 'reason'),
        meetingUuid: optionalString(body, 'meetingUuid'),
        dryRun: body.dryRun === true,
      });
    } catch (err) {
      throw mapError(err);
    }
  }
}

/** Loopback without a proxy in front, or RECONCILE_ADMIN_TOKEN (service-kit's shared check). */
export function authorize(req: FastifyRequest, token: string | undefined): void {
  authorizeAdminRequest(req, { token, setting: 'RECONCILE_ADMIN_TOKEN', what: 'the reconcile endpoints' });
}

function mapError(err: unknown): unknown {
  if (err instanceof ReconcileBusyError) return new HttpError(409, 'reconcile_busy', err.message);
  if (err instanceof ReconcileUnavailableError) return new HttpError(503, err.code, err.message);
  if (err instanceof RangeError) return new HttpError(400, 'bad_request', err.message);
  return err;
}

function jsonBody(req: FastifyRequest): Record<string, unknown> {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'the body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpError(400, 'bad_request', `${name} must be a non-empty string`);
  return v;
}

function optionalStrings(body: Record<string, unknown>, name: string): string[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === ''))
    throw new HttpError(400, 'bad_request', `${name} must be an array of non-empty strings`);
  return v as string[];
}
