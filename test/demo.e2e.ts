import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess, Stack, startService, startStack, testEnv } from '@gtc/testing';

// The README's first section, as a test: the demo comes up seeded and answers through graph-sim.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
let stack: Stack;
let admin: ServiceProcess;
const user = '15551234567';

async function inbound(body: object) {
  const res = await fetch(`${stack.graphSim.url}/sim/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: '100000000000001', from: user, ...body }),
  });
  expect(res.status).toBe(202);
}

const received = async () => stack.sim<{ type: string; body: any; statuses: { status: string }[] }[]>('GET', `/sim/messages?to=${user}`);

beforeAll(async () => {
  stack = await startStack({ databaseUrl, redisUrl, redisPrefix: `${redisPrefix}-demo` });
  admin = await startService('admin', { ...stack.env, DEMO_SEED: 'true', PUBLIC_BASE_URL: stack.ingress.url });
});
afterAll(async () => {
  await admin?.kill();
  await stack?.stop();
});

describe('demo out of the box', () => {
  it('answers "hi", routes a button press, and shows the status timeline in the admin API', async () => {
    // The seed registers the demo number in graph-sim once it has loaded the examples bundle, then creates the
    // provider (the admin API checks with the Graph API that the token owns the number).
    await expect
      .poll(async () => (await stack.sim<{ phone_number_id: string }[]>('GET', '/sim/phone-numbers')).some((n) => n.phone_number_id === '100000000000001'), { timeout: 30_000 })
      .toBe(true);
    const adminHeaders = { authorization: 'Bearer dev-admin-key-change-me-before-production' };
    await expect.poll(async () => (await fetch(`${admin.url}/v1/tenants/demo/teams/support/provider`, { headers: adminHeaders })).status, { timeout: 30_000 }).toBe(200);
    await inbound({ name: 'Ana', text: 'hi' });
    await expect.poll(async () => (await received()).length, { timeout: 20_000 }).toBe(2);
    const [greeting, buttons] = await received();
    expect(greeting.body.text.body).toBe('Hello! How can I help you today?');
    expect(buttons.body.interactive.action.buttons.map((b: any) => b.reply.title)).toEqual(['Get Help', 'Check Status', 'Talk to Human']);

    await inbound({ button_reply: { id: 'help', title: 'Get Help' } });
    await expect.poll(async () => (await received()).length, { timeout: 20_000 }).toBe(3);
    expect((await received())[2].body.text.body).toBe("Here's how I can help...");

    const headers = { authorization: 'Bearer dev-admin-key-change-me-before-production' };
    const list = await (await fetch(`${admin.url}/v1/tenants/demo/messages?direction=outbound`, { headers })).json();
    expect(list.data).toHaveLength(3);
    const last = list.data.find((m: any) => m.body.text?.body === "Here's how I can help...");
    await expect
      .poll(async () => (await (await fetch(`${admin.url}/v1/tenants/demo/messages/${last.id}`, { headers })).json()).timeline.map((t: any) => t.status), { timeout: 15_000 })
      .toEqual(['sent', 'delivered', 'read']);
  });
});
