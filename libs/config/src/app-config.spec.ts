import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('gives a working local configuration with nothing set', () => {
    const c = loadConfig({});
    expect(c.env.DATABASE_URL).toBe('postgresql://localhost:5432/gtc');
    expect(c.env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.env.INGRESS_PORT).toBe(3000);
    expect(c.secretsKey).toHaveLength(32);
    expect(c.warnings.join('\n')).toMatch(/SECRETS_KEY/);
  });

  it("derives ingress's public URL from INGRESS_PORT unless PUBLIC_BASE_URL is set", () => {
    expect(loadConfig({}).env.PUBLIC_BASE_URL).toBe('http://localhost:3000');
    expect(loadConfig({ INGRESS_PORT: '3100' }).env.PUBLIC_BASE_URL).toBe('http://localhost:3100');
    expect(loadConfig({ INGRESS_PORT: '3100', PUBLIC_BASE_URL: 'https://hooks.example.com' }).env.PUBLIC_BASE_URL).toBe('https://hooks.example.com');
  });

  it('names the variable when a value is bad', () => {
    expect(() => loadConfig({ INGRESS_PORT: 'eighty' })).toThrow(/INGRESS_PORT/);
    expect(() => loadConfig({ REDIS_URL: 'http://nope' })).toThrow(/REDIS_URL: must be a URL/);
    expect(() => loadConfig({ SECRETS_KEY: 'short' })).toThrow(/SECRETS_KEY: must be 32 bytes/);
  });

  it('refuses a budget of bodies in flight smaller than one body', () => {
    expect(() => loadConfig({ INGRESS_BODY_LIMIT_BYTES: '1000', INGRESS_BODIES_IN_FLIGHT_BYTES: '999' })).toThrow(/INGRESS_BODIES_IN_FLIGHT_BYTES: at least INGRESS_BODY_LIMIT_BYTES/);
    expect(loadConfig({ INGRESS_BODY_LIMIT_BYTES: '1000', INGRESS_BODIES_IN_FLIGHT_BYTES: '1000' }).env.INGRESS_BODIES_IN_FLIGHT_BYTES).toBe(1000);
  });

  it('refuses a throughput pace that plans sends closer together than the send log lets them leave', () => {
    expect(() => loadConfig({ THROUGHPUT_PACE: '1', THROUGHPUT_MARGIN_MS: '20' })).toThrow(/THROUGHPUT_PACE: at most 1000 \/ \(1000 \+ THROUGHPUT_MARGIN_MS\) = 0\.9804/);
    expect(() => loadConfig({ THROUGHPUT_MARGIN_MS: '50' })).toThrow(/THROUGHPUT_PACE/); // the default pace, 0.96, is too fast for 50 ms
    expect(loadConfig({ THROUGHPUT_PACE: '1', THROUGHPUT_MARGIN_MS: '0' }).env.THROUGHPUT_PACE).toBe(1);
    expect(loadConfig({}).env).toMatchObject({ THROUGHPUT_PACE: 0.96, THROUGHPUT_MARGIN_MS: 30 });
  });

  it('lists every bad variable at once', () => {
    try {
      loadConfig({ ADMIN_PORT: '-1', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual(['ADMIN_PORT', 'LOG_LEVEL']);
    }
  });

  it('refuses development defaults for secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SECRETS_KEY: required in production[\s\S]*ADMIN_API_KEY/);
    const ok = loadConfig({ NODE_ENV: 'production', SECRETS_KEY: 'a'.repeat(64), ADMIN_API_KEY: 'x'.repeat(32) });
    expect(ok.warnings).toEqual([]);
  });

  it('refuses the publicly known development keys in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', SECRETS_KEY: 'a'.repeat(64), ADMIN_API_KEY: 'dev-admin-key-change-me-before-production' })).toThrow(
      /ADMIN_API_KEY: the public development key is not allowed in production/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', SECRETS_KEY: '0'.repeat(63) + '1', ADMIN_API_KEY: 'x'.repeat(32) })).toThrow(/SECRETS_KEY: a publicly known key/);
    const prod = { NODE_ENV: 'production', SECRETS_KEY: 'a'.repeat(64), ADMIN_API_KEY: 'x'.repeat(32) };
    expect(() => loadConfig({ ...prod, METRICS_TOKEN: 'dev-metrics-token-change-me' })).toThrow(/METRICS_TOKEN: the demo compose file's public token/);
    expect(loadConfig({ ...prod, METRICS_TOKEN: 'y'.repeat(24) }).env.METRICS_TOKEN).toBe('y'.repeat(24));
  });

  it('refuses an admin key under 32 characters in production, and under 16 anywhere', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', SECRETS_KEY: 'a'.repeat(64), ADMIN_API_KEY: 'x'.repeat(31) })).toThrow(
      /ADMIN_API_KEY: at least 32 characters in production/,
    );
    expect(loadConfig({ ADMIN_API_KEY: 'x'.repeat(16) }).adminApiKey).toHaveLength(16);
    expect(() => loadConfig({ ADMIN_API_KEY: 'x'.repeat(15) })).toThrow(/ADMIN_API_KEY: at least 16 characters/);
  });

  it('keeps workers’ /health and /metrics on 127.0.0.1 unless METRICS_HOST says otherwise', () => {
    expect(loadConfig({}).env.METRICS_HOST).toBe('127.0.0.1');
    expect(() => loadConfig({ METRICS_HOST: 'a b' })).toThrow(/METRICS_HOST/);
  });
});
