# oac-token-proxy container image: multi-stage build, production dependencies only, non-root.
# Build:  docker build -t oac-token-proxy .
# Run:    docker run --read-only --network host -v oac-state:/var/lib/oac-token-proxy \
#           -v ./config.yaml:/etc/oac-token-proxy/config.yaml:ro oac-token-proxy   (see docs/deployment.md)

FROM node:26-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npx tsc -p tsconfig.json

FROM node:26-trixie-slim
ENV NODE_ENV=production \
    OAC_PROXY_CONFIG=/etc/oac-token-proxy/config.yaml \
    OAC_PROXY_STATE_FILE=/var/lib/oac-token-proxy/state.json \
    OAC_PROXY_LISTEN_PORT=8787
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# state lives on a volume; everything else may be read-only
RUN mkdir -p /var/lib/oac-token-proxy /etc/oac-token-proxy && chown node:node /var/lib/oac-token-proxy
VOLUME ["/var/lib/oac-token-proxy"]
USER node
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OAC_PROXY_LISTEN_PORT||8787)+'/-/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec form: node is PID 1 and receives SIGTERM directly; V8 flags (scripts/v8-flags.mjs) keep the sidecar small
ENTRYPOINT ["node", "--max-semi-space-size=2", "--no-wasm-tier-up", "--expose-gc", "/app/dist/cli.js"]
CMD ["serve"]
