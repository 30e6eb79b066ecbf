import { Controller, Param, Post, Req, Res } from '@nestjs/common';
import { sendError } from '@zoom-pipeline/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IngressService } from './ingress.service';

/** POST /webhooks/zoom (app "default") and POST /webhooks/zoom/:app (per-app secrets). */
@Controller('webhooks/zoom')
export class WebhookController {
  constructor(private readonly ingress: IngressService) {}

  @Post()
  async receiveDefault(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.receive('default', req, reply);
  }

  @Post(':app')
  async receiveForApp(
    @Param('app') app: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // Exact case: apps are named in lower case (ZOOM_WEBHOOK_SECRET_TOKEN_SALES_EU → sales-eu), so
    // /webhooks/zoom/DEFAULT
    // or /webhooks/zoom/Sales-EU are unknown apps, not aliases. "default" is only reachable through the bare path.
    await this.receive(app === 'default' ? '\0' : app, req, reply);
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
