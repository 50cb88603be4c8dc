import { DynamicModule, Global, Module } from '@nestjs/common';
import { HealthService } from './health.service';
import { LoggingModule } from './logging.module';
import { MetricsService } from './metrics.service';

/** Logging, metrics and health for one service; import once in the app's root module. */
@Global()
@Module({})
export class ObservabilityModule {
  static forService(service: string, quietRoutes: string[] = []): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [LoggingModule.forService(service, quietRoutes)],
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
