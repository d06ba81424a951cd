# A container image of the proxy: build with dev dependencies, run without them.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
WORKDIR /app
# One malloc arena besides the main one: glibc's default (8 per core) held
# ~30 MB of freed memory in per-thread arenas after a load (README, Performance).
ENV NODE_ENV=production PORT=8080 MALLOC_ARENA_MAX=2
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
# node as PID 1 receives SIGTERM itself and drains in-flight downloads.
# A small young generation: Buffers of streamed bodies die young; with V8's
# default the proxy held ~390 MB after a large-object load, with 2 MB ~270 MB,
# and with 1 MB 500 slow readers held ~17 MB less again, at the same or lower
# CPU per GB (npm run bench, see README, Performance).
CMD ["node", "--max-semi-space-size=1", "dist/main.js"]
