import { withTimeout } from '@zoom-pipeline/async-kit';
import { Controller, Get, Injectable, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

export interface ReadinessCheck {
  name: string;
  /** Resolves true when the dependency is reachable. Must answer fast (a few hundred ms). */
  check(): Promise<boolean>;
}

export interface LivenessCheck {
  name: string;
  /** False when a loop is stuck (e.g. a consumer made no progress although work was waiting). */
  isAlive(): boolean;
}

/** Holds the checks adapters and features register, and the draining flag set on SIGTERM. */
@Injectable()
export class HealthService {
  private readonly readiness: ReadinessCheck[] = [];
  private readonly liveness: LivenessCheck[] = [];
  private draining = false;

  addReadiness(check: ReadinessCheck): void {
    this.readiness.push(check);
  }
  addLiveness(check: LivenessCheck): void {
    this.liveness.push(check);
  }
  startDraining(): void {
    this.draining = true;
  }
  isDraining(): boolean {
    return this.draining;
  }

  live(): { ok: boolean; checks: Record<string, boolean> } {
    const checks: Record<string, boolean> = {};
    for (const c of this.liveness) checks[c.name] = safe(() => c.isAlive());
    return { ok: Object.values(checks).every(Boolean), checks };
  }

  async ready(timeoutMs = 1_000): Promise<{ ok: boolean; checks: Record<string, boolean>; draining: boolean }> {
    const results = await Promise.all(
      this.readiness.map((c) => withTimeout(c.check(), timeoutMs, () => false).catch(() => false)),
    );
    const checks: Record<string, boolean> = {};
    this.readiness.forEach((c, i) => (checks[c.name] = results[i]));
    return { ok: !this.draining && results.every(Boolean), checks, draining: this.draining };
  }
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('healthz')
  healthz(@Res() reply: FastifyReply): void {
    const r = this.health.live();
    void reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ok' : 'unhealthy', checks: r.checks });
  }

  @Get('readyz')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const r = await this.health.ready();
    const status = r.draining ? 'draining' : r.ok ? 'ready' : 'not_ready';
    if (!r.ok) {
      void reply
        .code(503)
        .header('retry-after', '5')
        .send({
          error: status,
          message: r.draining ? 'shutting down' : 'a dependency is unreachable',
          checks: r.checks,
        });
      return;
    }
    void reply.code(200).send({ status, checks: r.checks });
  }
}
