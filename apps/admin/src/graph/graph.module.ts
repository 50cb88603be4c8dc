import { Global, Module } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { GraphApiClient } from '@gtc/whatsapp/graph-api.client';

/** Provides the Graph API client (libs/whatsapp) against GRAPH_API_BASE_URL (Meta, or graph-sim). */
@Global()
@Module({
  providers: [
    {
      provide: GraphApiClient,
      inject: [AppConfig],
      useFactory: (c: AppConfig) => new GraphApiClient({ baseUrl: c.env.GRAPH_API_BASE_URL, timeoutMs: c.env.GRAPH_API_TIMEOUT_MS }),
    },
  ],
  exports: [GraphApiClient],
})
export class GraphModule {}
