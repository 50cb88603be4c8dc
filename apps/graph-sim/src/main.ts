import { runHttpService } from '@gtc/observability';
import { loadGraphSimEnv } from './graph-sim.config';
import { GraphSimModule } from './graph-sim.module';
import { parseJsonBody } from './json-body';

try {
  loadGraphSimEnv();
} catch (err) {
  process.stderr.write(`graph-sim: ${(err as Error).message}\n`);
  process.exit(1);
}

void runHttpService(GraphSimModule, {
  service: 'graph-sim',
  port: (c) => c.env.GRAPH_SIM_PORT,
  bodyLimit: () => 5 * 1024 * 1024,
  configure: (app) => {
    app.useBodyParser('application/json', {}, parseJsonBody);
  },
});
