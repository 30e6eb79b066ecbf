import { type DynamicModule, type InjectionToken, Module } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { type AccessTokenSource, ZoomApiClient } from './zoom-api.client';

/**
 * The app's ZoomApiClient, or undefined when no S2S credentials are configured (the reconciler then refuses to run).
 */
export const ZOOM_API = Symbol('ZOOM_API');

export interface ZoomApiModuleOptions {
  baseUrl: string;
  requestsPerSecond: number;
  /** DI token of the process's S2S token cache (zoom-download's S2S_TOKEN_SOURCE), shared with the downloader. */
  tokens: InjectionToken;
  /** DI token of the metrics registry (service-kit's METRICS_REGISTRY). */
  registry: InjectionToken;
}

@Module({})
export class ZoomApiModule {
  static forRoot(options: ZoomApiModuleOptions): DynamicModule {
    return {
      module: ZoomApiModule,
      global: true,
      providers: [
        {
          provide: ZOOM_API,
          inject: [options.tokens, options.registry],
          useFactory: (tokens: AccessTokenSource | undefined, registry: Registry): ZoomApiClient | undefined =>
            tokens === undefined
              ? undefined
              : new ZoomApiClient({
                  tokens,
                  baseUrl: options.baseUrl,
                  requestsPerSecond: options.requestsPerSecond,
                  registry,
                }),
        },
      ],
      exports: [ZOOM_API],
    };
  }
}
