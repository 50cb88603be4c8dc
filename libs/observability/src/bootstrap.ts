import 'reflect-metadata';
import { INestApplication, INestApplicationContext, LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig, ConfigError, loadConfig } from '@gtc/config';
import { Logger } from 'nestjs-pino';
import { answerFrameworkError } from './framework-errors';
import { HealthService } from './health.service';
import { createLogger } from './logging.module';
import { MetricsService } from './metrics.service';
import { WorkerHttpServer } from './worker-http.server';

/** Nest's start-up chatter (each module initialised, each route mapped): logged at debug, so start-up at info is short. */
const STARTUP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/** The service's pino logger for Nest, with Nest's own start-up lines moved to debug. */
function nestLogger(app: INestApplicationContext): LoggerService {
  const pino = app.get(Logger);
  return {
    log: (message: unknown, ...rest: unknown[]) =>
      STARTUP_CONTEXTS.has(rest[rest.length - 1] as string) ? pino.debug(message, ...rest) : pino.log(message, ...rest),
    error: (message: unknown, ...rest: unknown[]) => pino.error(message, ...rest),
    warn: (message: unknown, ...rest: unknown[]) => pino.warn(message, ...rest),
    debug: (message: unknown, ...rest: unknown[]) => pino.debug(message, ...rest),
    verbose: (message: unknown, ...rest: unknown[]) => pino.verbose(message, ...rest),
    fatal: (message: unknown, ...rest: unknown[]) => pino.fatal(message, ...rest),
  };
}

/** Validates config before Nest starts so a bad value stops the process with a message naming the variable. */
function preflight(service: string): AppConfig {
  try {
    const config = loadConfig();
    const log = createLogger(service, config);
    for (const w of config.warnings) log.warn(w);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * On SIGTERM/SIGINT: fail readiness, run `before` (a service's own HTTP server closing: its requests in flight still
 * need the app), close the app (drain Nest's HTTP, finish current jobs), then `after` (a worker's /health server,
 * which answers "draining" until then), exit; forced after the timeout.
 */
function onShutdown(app: INestApplicationContext, config: AppConfig, { before, after }: { before?: () => Promise<void>; after?: () => Promise<void> } = {}): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    app.get(HealthService).markDraining();
    const logger = app.get(Logger);
    logger.log(`${signal} received: draining`);
    const timer = setTimeout(() => {
      logger.error('shutdown timed out: exiting');
      process.exit(1);
    }, config.env.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    (async () => {
      await before?.();
      await app.close();
      await after?.();
    })()
      .then(() => process.exit(0))
      .catch((err: Error) => {
        logger.error(`shutdown failed: ${err.message}`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** Options of an HTTP service. */
export interface HttpServiceOptions {
  service: string;
  port: (config: AppConfig) => number;
  bodyLimit?: (config: AppConfig) => number;
  /** Runs after the app is created and before it listens (routes, parsers, plugins). */
  configure?: (app: NestFastifyApplication, config: AppConfig) => Promise<void> | void;
}

/** Starts a NestJS HTTP app on Fastify with logging, graceful shutdown and config checked first. */
export async function runHttpService(module: Type<unknown>, options: HttpServiceOptions): Promise<INestApplication> {
  const config = preflight(options.service);
  const bodyLimit = options.bodyLimit?.(config) ?? 1024 * 1024;
  const app = await NestFactory.create<NestFastifyApplication>(
    module,
    new FastifyAdapter({
      bodyLimit,
      trustProxy: true,
      frameworkErrors: answerFrameworkError,
    }),
    { bufferLogs: true },
  );
  app.useLogger(nestLogger(app));
  await options.configure?.(app, config);
  onShutdown(app, config);
  const port = options.port(config);
  await app.listen(port, '0.0.0.0');
  app.get(Logger).log(`${options.service} listening on :${port}`);
  return app;
}

/** Starts a worker (Nest application context) with its small /health and /metrics server on METRICS_HOST. */
export async function runWorkerService(
  module: Type<unknown>,
  options: { service: string; port: (config: AppConfig) => number },
): Promise<INestApplicationContext> {
  const config = preflight(options.service);
  const app = await NestFactory.createApplicationContext(module, { bufferLogs: true });
  app.useLogger(nestLogger(app));
  const http = new WorkerHttpServer(app.get(HealthService), app.get(MetricsService), config.env.METRICS_TOKEN);
  const port = await http.listen(options.port(config), config.env.METRICS_HOST);
  onShutdown(app, config, { after: () => http.close() });
  app.get(Logger).log(`${options.service} started; /health and /metrics on :${port}`);
  return app;
}

/** The HTTP server a service runs beside its application context (runServerService). */
export interface ServiceServer {
  /** The port it listens on. */
  port: number;
  /** Stops taking requests; resolves once those in flight are answered. */
  close(): Promise<void>;
}

/**
 * Starts a service as a Nest application context with an HTTP server of its own (`serve`), for a service whose
 * requests should not pay for Nest's HTTP adapter (ingress). On SIGTERM the server closes first, answering what it
 * has in flight, then the context.
 */
export async function runServerService(
  module: Type<unknown>,
  options: { service: string; serve: (app: INestApplicationContext, config: AppConfig) => Promise<ServiceServer> },
): Promise<INestApplicationContext> {
  const config = preflight(options.service);
  const app = await NestFactory.createApplicationContext(module, { bufferLogs: true });
  app.useLogger(nestLogger(app));
  const server = await options.serve(app, config);
  onShutdown(app, config, { before: () => server.close() });
  app.get(Logger).log(`${options.service} listening on :${server.port}`);
  return app;
}
