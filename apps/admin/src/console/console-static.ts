import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where the console's build (apps/console, `vite build`) is, from this file in apps/admin/dist/console. */
export const CONSOLE_DIST = resolve(__dirname, '../../../console/dist');

/**
 * The console page's rules: its own scripts and styles only, API calls to this origin, images from the API as blobs;
 * never framed. The key it holds can only go where the page itself sends it.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** A year: hashed assets never change under the same name. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the operator console at /console: `/console/assets/*` (hashed by the build) cached for a year, the other
 * files of the build's root as they are, and index.html for every other /console path (the page routes itself),
 * never cached, so a new build is picked up at the next load. Public files only: the data comes from /v1 with the
 * key the operator typed. Without a build, /console says how to make one.
 */
export async function mountConsole(app: NestFastifyApplication, dist = CONSOLE_DIST): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  const index = join(dist, 'index.html');
  if (!existsSync(index)) {
    const missing = (_req: unknown, reply: FastifyReply) =>
      void reply
        .code(404)
        .send({ error: { code: 'console_not_built', message: 'the console is not built: run pnpm build' } });
    fastify.get('/console', missing);
    fastify.get('/console/*', missing);
    return;
  }
  const html = readFileSync(index);
  // The build's root files (favicon, …), read once: a request path never reaches the file system here.
  const rootFiles = new Map(
    readdirSync(dist)
      .filter((f) => f !== 'index.html' && statSync(join(dist, f)).isFile())
      .map((f) => [f, readFileSync(join(dist, f))]),
  );
  const page = (reply: FastifyReply) =>
    void reply
      .headers({
        ...SECURITY_HEADERS,
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
      })
      .send(html);

  await fastify.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root: join(dist, 'assets'),
      prefix: '/console/assets/',
      wildcard: true,
      index: false,
      redirect: false,
      decorateReply: false,
      cacheControl: false,
      setHeaders: (res) => {
        res.setHeader('cache-control', IMMUTABLE);
        res.setHeader('x-content-type-options', 'nosniff');
      },
    });
    scope.get('/console', (_req, reply) => page(reply));
    scope.get('/console/*', (req, reply) => {
      const name = (req.params as { '*': string })['*'];
      const file = rootFiles.get(name);
      if (file)
        return void reply
          .headers({ 'x-content-type-options': 'nosniff', 'cache-control': 'public, max-age=3600' })
          .type(contentType(name))
          .send(file);
      if (name.startsWith('assets/'))
        return void reply
          .code(404)
          .send({ error: { code: 'not_found', message: `no console asset ${name}` } });
      page(reply);
    });
  });
}

/** The content type of a root file of the build. */
function contentType(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return (
    {
      svg: 'image/svg+xml',
      png: 'image/png',
      ico: 'image/x-icon',
      json: 'application/json',
      txt: 'text/plain; charset=utf-8',
      webmanifest: 'application/manifest+json',
    }[ext] ?? 'application/octet-stream'
  );
}
