/**
 * Node command-line flags every gtc service runs with: docker-compose.yml, docker-compose.prod.yml and the
 * Dockerfile's CMD (held to this list by test/compose.e2e.ts), `pnpm start`, the tests' service launchers and the
 * bench all start the apps as `node <SERVICE_NODE_FLAGS> apps/<app>/dist/main.js`. (V8 flags: NODE_OPTIONS refuses them.)
 *
 * `--heap-growing-percent=50`: after each full collection V8 lets the heap grow by half of what survived before the
 * next one, instead of up to several times it. A service under load keeps little (ingress: 34 MB in use right after a
 * collection, while its heap held 107-128 MB of mostly garbage at its peak), so this bounds the garbage, not the data:
 * nothing is capped, a large body still fits. What it changed under pnpm bench is in the README's figures.
 *
 * `--max-semi-space-size=4`: the young generation, where nearly everything a request or a job allocates dies, gets at
 * most 4 MB per semi-space instead of 16. V8 grows it to the default maximum soon after start, and both semi-spaces
 * are resident: at rest a service held 32 MB for it with 4 MB in use. Under load a smaller one is collected more
 * often, each time as cheaply (what survives is what is in flight); pnpm bench found no difference in CPU per message.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--heap-growing-percent=50', '--max-semi-space-size=4'];
