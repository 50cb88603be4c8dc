import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from './api-key.guard';
import { safeEqual } from './api-key.hash';

/**
 * Guards the bull-board dashboard at /queues with the admin key: `Authorization: Bearer <admin key>` for scripts, or
 * HTTP basic auth (any user name, the admin key as password) for browsers, which prompt for it and resend it.
 * A `?key=` query parameter is deliberately not accepted: request URLs are logged, so the key would reach the logs.
 */
export function queuesAuthHook(adminKey: string, prefix = '/queues') {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0];
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return;
    const bearer = bearerToken(req.headers.authorization);
    if (bearer && safeEqual(bearer, adminKey)) return;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      if (safeEqual(decoded.slice(decoded.indexOf(':') + 1), adminKey)) return;
    }
    await reply
      .status(401)
      .header('www-authenticate', 'Basic realm="gtc queues", charset="UTF-8"')
      .send({ error: { code: 'unauthorized', message: 'the queue dashboard needs the admin key (basic auth password or Bearer)' } });
  };
}
