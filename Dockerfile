# The Tapline image: one CLI (`tapline agent | hub | up | import | query`) for every role.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpcap-dev python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY backend/package.json backend/package.json
COPY plugin/package.json plugin/package.json
RUN npm ci --omit=dev --workspace backend --include-workspace-root --no-audit --no-fund
COPY backend backend

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpcap0.8 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENTRYPOINT ["node", "/app/backend/bin/tapline.js"]
CMD ["up"]
