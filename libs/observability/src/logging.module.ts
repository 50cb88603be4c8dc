import { randomUUID } from 'node:crypto';
import { DynamicModule, Module } from '@nestjs/common';
import type { RouteInfo } from '@nestjs/common/interfaces';
import { AppConfig } from '@gtc/config';
import { LoggerModule } from 'nestjs-pino';
import pino, { Logger, LoggerOptions } from 'pino';
import { REDACT_PATHS } from './redaction';

/** Pino options shared by HTTP apps, workers and scripts: JSON lines, service name, redaction. */
export function loggerOptions(service: string, config: AppConfig): LoggerOptions {
  return {
    name: service,
    level: config.env.LOG_LEVEL,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    transport: config.env.LOG_PRETTY
      ? { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
      : undefined,
  };
}

/** A standalone pino logger (for code outside Nest DI, e.g. boot errors and scripts). */
export function createLogger(service: string, config: AppConfig): Logger {
  return pino(loggerOptions(service, config));
}

/**
 * Which routes get the per-request logger (pino-http, as Nest middleware): every route, or only those listed. A
 * service's hot endpoints (graph-sim's Graph API: thousands of requests a second), which log their own failures, are
 * left out by listing the others; an empty list gives none. Listing is what makes them free: a route excluded from a
 * middleware applied to every path still ran Nest's middleware chain on each request (8 % of the ingress's CPU). The
 * middleware is matched by path before method, so a listed GET on a hot POST's path still costs every POST.
 */
export type RequestLogRoutes = 'all' | RouteInfo[];

/** nestjs-pino for one service: request ids from `x-request-id` (or new), health/metrics requests not logged. */
@Module({})
export class LoggingModule {
  static forService(service: string, requestLogs: RequestLogRoutes = 'all'): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            ...(requestLogs !== 'all' && { forRoutes: requestLogs }),
            pinoHttp: {
              ...loggerOptions(service, config),
              genReqId: (req, res) => {
                const id = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
                res.setHeader('x-request-id', id);
                return id;
              },
              autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
              // Successful requests are logged at debug so a busy ingress does not drown in its own logs.
              customLogLevel: (_req, res, err) =>
                err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'debug',
            },
          }),
        }),
      ],
    };
  }
}
