import { safeEqual } from '@gtc/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from '../common/error.filter';
import { bearerToken } from './api-key.guard';
import { FailedAuthThrottle } from './failed-auth.throttle';

/**
 * The `onRequest` hook that guards the bull-board dashboard with the admin key: `Authorization: Bearer <admin key>`
 * for scripts, or HTTP basic auth (any user name, the admin key as password) for browsers, which prompt for it and
 * resend it. It is added inside the dashboard's own plugin scope, so it runs for every route the router matched
 * there, however the path was spelled. A `?key=` query parameter is deliberately not accepted: request URLs are
 * logged, so the key would reach the logs. Failures count toward the client's failed-authentication limit.
 */
export function queuesAuthHook(adminKey: string, throttle: FailedAuthThrottle) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bearer = bearerToken(req.headers.authorization);
    if (bearer && safeEqual(bearer, adminKey)) return;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      if (safeEqual(decoded.slice(decoded.indexOf(':') + 1), adminKey)) return;
    }
    const error = await throttle.failure(req, reply, 'the queue dashboard needs the admin key (basic auth password or Bearer)');
    const { status, body } = toErrorResponse(error);
    if (status === 401) void reply.header('www-authenticate', 'Basic realm="gtc queues", charset="UTF-8"');
    await reply.status(status).send(body);
  };
}
