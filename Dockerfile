# syntax=docker/dockerfile:1
# One image for every gtc app; compose picks the app with `command`.

FROM node:20.19-bookworm-slim AS base
# pnpm pinned to package.json's packageManager, the version that wrote pnpm-lock.yaml.
RUN npm install -g pnpm@10.34.9 && apt-get update && apt-get install -y --no-install-recommends openssl ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies first, so source changes don't re-download them.
FROM base AS deps
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY apps/admin/package.json apps/admin/
COPY apps/cli/package.json apps/cli/
COPY apps/event-dispatcher/package.json apps/event-dispatcher/
COPY apps/flow-runner/package.json apps/flow-runner/
COPY apps/graph-sim/package.json apps/graph-sim/
COPY apps/ingress/package.json apps/ingress/
COPY apps/sender/package.json apps/sender/
COPY libs/client/package.json libs/client/
COPY libs/config/package.json libs/config/
COPY libs/db/package.json libs/db/
COPY libs/flows/package.json libs/flows/
COPY libs/observability/package.json libs/observability/
COPY libs/queue/package.json libs/queue/
COPY libs/testing/package.json libs/testing/
COPY libs/whatsapp/package.json libs/whatsapp/
RUN pnpm install --frozen-lockfile

FROM deps AS build
COPY . .
RUN pnpm build
# Production dependencies only: pnpm removes every devDependency (TypeScript, Prisma's CLI, test tools) from
# node_modules; the built apps, the generated client and the migrations stay.
RUN CI=true pnpm install --frozen-lockfile --prod --offline

# Runtime: the built apps with their production dependencies, run as the unprivileged `node` user.
FROM base AS runtime
ENV NODE_ENV=production
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3000 3001 3002 3010 3020 3030
CMD ["node", "--heap-growing-percent=50", "--max-semi-space-size=4", "apps/ingress/dist/main.js"]
