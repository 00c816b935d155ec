# syntax=docker/dockerfile:1
# The gitops-rollback operator image. Same Node major as the tests (24); production dependencies
# only; runs as a non-root user with a read-only root filesystem (see config/manager).
#
#   docker build -t ghcr.io/gitops-rollback/controller:v0.1.0 .

# Build: compile TypeScript to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# postinstall applies patches/ (isomorphic-git's quadratic pack-index fanout, see docs/benchmarks.md).
COPY patches ./patches
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only (the `node` package that provides Node 24 to npm scripts is a
# devDependency: the image uses the base image's Node).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
# A small young generation keeps a cold clone of a 50k-file repository under 300 MiB RSS
# (docs/benchmarks.md) at no measurable cost in time.
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-semi-space-size=4"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# The patched isomorphic-git from the build stage (patch-package is a devDependency).
COPY --from=build /app/node_modules/isomorphic-git ./node_modules/isomorphic-git
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/cli/main.js"]
