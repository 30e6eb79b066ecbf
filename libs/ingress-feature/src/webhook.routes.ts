import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { sendError } from '@zoom-pipeline/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IngressService } from './ingress.service';

/**
 * POST /webhooks/zoom (app "default") and POST /webhooks/zoom/:app (per-app secrets), registered on Fastify itself:
 * the hot route skips Nest's per-request router (execution context, param pipes), ~6% of the ingress's CPU under
 * load. Errors still reach the global filter (Nest installs Fastify's error and not-found handlers), and the routes
 * pass through the same `onRoute` hook (405 answers), `onRequest` hook (503 while closing) and body parser.
 */
@Injectable()
export class WebhookRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly ingress: IngressService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.post('/webhooks/zoom', (req, reply) => this.receive('default', req, reply));
    fastify.post('/webhooks/zoom/:app', (req, reply) => {
      const app = (req.params as { app: string }).app;
      // As Nest's adapter does for an empty path parameter: no route.
      if (app === '') return void reply.callNotFound();
      // Exact case: apps are named in lower case (ZOOM_WEBHOOK_SECRET_TOKEN_SALES_EU → sales-eu), so
      // /webhooks/zoom/DEFAULT or /webhooks/zoom/Sales-EU are unknown apps, not aliases. "default" is only reachable
      // through the bare path.
      return this.receive(app === 'default' ? '\0' : app, req, reply);
    });
  }

  private async receive(app: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const result = await this.ingress.receive({
      app,
      rawBody: Buffer.isBuffer(req.body) ? req.body : undefined,
      headers: req.headers,
      sourceIp: req.ip,
      receivedAtMs: Date.now(),
    });
    if (!result.ok) {
      sendError(reply, result.error);
      return;
    }
    void reply.code(200).type('application/json; charset=utf-8').send(result.body);
  }
}
