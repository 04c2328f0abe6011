# syntax=docker/dockerfile:1
#
# claimgate container image. Two stages: `build` compiles TypeScript with all dependencies; the final
# stage has only production dependencies, dist/ and proto/.
#
#   docker build -t claimgate .
#   docker run --read-only -v "$PWD/claimgate.yaml:/etc/claimgate/claimgate.yaml:ro" -p 9001:9001 claimgate
#
# Runtime facts (checked by test/deploy/dockerfile.test.ts):
# - runs as the unprivileged `node` user by NUMERIC uid/gid 1000, so Kubernetes' runAsNonRoot can verify it;
# - needs no writable path: nothing is written at run time (logs go to stderr), so `--read-only` /
#   readOnlyRootFilesystem work; /tmp may be a tmpfs but is not required;
# - ENTRYPOINT is exec form, so node is PID 1 and receives SIGTERM itself: claimgate turns its gRPC
#   health NOT_SERVING, lets in-flight Checks finish within server.shutdown_grace_ms and exits 0.
#   claimgate starts no child processes, so no init (tini, `docker run --init`) is needed to reap them.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY proto ./proto
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="claimgate" \
      org.opencontainers.image.description="Envoy ext_authz gRPC server: verifies JWTs from allow-listed issuers and enforces per-route claims" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="docker.io/library/node:20-bookworm-slim"
ENV NODE_ENV=production \
    CLAIMGATE_HEALTHCHECK_URL=http://127.0.0.1:9090/healthz
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/*
COPY --from=build /app/dist ./dist
COPY proto ./proto
# The node user of the official image (uid/gid 1000), numerically.
USER 1000:1000
EXPOSE 9001 9090
# No curl or wget in the slim image: node itself asks the admin listener. If server.admin_address
# is not port 9090, set CLAIMGATE_HEALTHCHECK_URL.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.CLAIMGATE_HEALTHCHECK_URL,{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--config", "/etc/claimgate/claimgate.yaml"]
