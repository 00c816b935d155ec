# syntax=docker/dockerfile:1
# The gitops-rollback operator image. Same Node major as the tests (24); production dependencies
# only; runs as a non-root user with a read-only root filesystem (see config/manager). The final
# image is distroless: Node and the app, no shell, no apt, no npm.
#
#   docker build -t ghcr.io/gitops-rollback/controller:v0.1.0 .
#
# Base images are pinned by digest (test/unit/image/dockerfile.test.ts checks it). The digests
# below were taken from public Dockerfiles that pin the same tags (found by code search; this
# repository's build machine cannot pull images, so they were not verified here). Before a
# release, confirm or refresh each one with
#   docker buildx imagetools inspect <image>:<tag> --format '{{json .Manifest.Digest}}'
# and let Dependabot's `docker` ecosystem keep them current.

# The build stages' base: node:24-bookworm-slim (Node 24.18.0 when pinned), with npm.
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS node

# Build: compile TypeScript to dist/.
FROM node AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only (the `node` package that provides Node 24 to npm scripts is a
# devDependency: the image uses the base image's Node).
FROM node AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Runtime: distroless Node (its entrypoint is /nodejs/bin/node), nothing to run a shell with.
FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a
# No V8 memory flags: the streaming fetch keeps a cold clone of a 50k-file repository under
# 150 MiB RSS with Node's defaults (docs/benchmarks.md).
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# nonroot (65532), numeric so the kubelet can check runAsNonRoot.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
