import { DynamicModule, Global, Module } from '@nestjs/common';
import { HealthService } from './health.service';
import { LoggingModule, RequestLogRoutes } from './logging.module';
import { MetricsService } from './metrics.service';

/** Logging, metrics and health for one service; import once in the app's root module. */
@Global()
@Module({})
export class ObservabilityModule {
  /** `requestLogs`: the routes that get a log line per request (LoggingModule); by default every route. */
  static forService(service: string, requestLogs: RequestLogRoutes = 'all'): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [LoggingModule.forService(service, requestLogs)],
      providers: [
        {
          provide: MetricsService,
          useFactory: () => {
            const m = new MetricsService();
            m.setService(service);
            return m;
          },
        },
        HealthService,
      ],
      exports: [MetricsService, HealthService, LoggingModule],
    };
  }
}
