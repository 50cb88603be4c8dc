import { Global, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { AppConfig, loadConfig } from './app-config';

/**
 * Registers @nestjs/config (reading `.env` if present, then the process environment) and provides the
 * validated AppConfig to every module. Validation happens once, at boot; a bad value stops the process.
 */
@Global()
@Module({
  imports: [ConfigModule.forRoot({ cache: true, load: [() => ({ app: loadConfig(process.env) })] })],
  providers: [
    { provide: AppConfig, inject: [ConfigService], useFactory: (c: ConfigService) => c.getOrThrow<AppConfig>('app') },
  ],
  exports: [AppConfig],
})
export class GtcConfigModule {}
