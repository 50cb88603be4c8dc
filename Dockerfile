# One image for every gtc app; compose picks the app with `command`.
# syntax=docker/dockerfile:1

FROM node:20.19-bookworm-slim AS base
RUN npm install -g pnpm@10 && apt-get update && apt-get install -y --no-install-recommends openssl ca-certificates \
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

# Runtime: built apps, migrations and the Prisma CLI (for `prisma migrate deploy`).
FROM build AS runtime
ENV NODE_ENV=production
USER node
EXPOSE 3000 3001 3002 3010 3020 3030
CMD ["node", "apps/ingress/dist/main.js"]
