# syntax=docker/dockerfile:1
# Kedge's container image, the one `kedge install` deploys (default ghcr.io/kedge-dev/kedge:v<package version>):
# the compiled CLI on the Node version the engine runs on, git, and the tools the engine runs as child processes
# (tools/kustomize-build, helm, sops and age-keygen), each built from Go modules by the repository's own pinned
# build scripts, so the image carries exactly the versions the tests use.
#
#   docker build -t ghcr.io/kedge-dev/kedge:v0.1.0 .
#   kind load docker-image ghcr.io/kedge-dev/kedge:v0.1.0      # or push it to a registry your cluster pulls from
#   kedge install --image ghcr.io/kedge-dev/kedge:v0.1.0
#
# The container's command is `kedge` (the Deployment passes `up --store=kubernetes --leader-elect …`); it runs as
# uid 1000 on a read-only root file system, writing only to its data dir and /tmp.

ARG NODE_VERSION=20.20.2
ARG GO_VERSION=1.26

# ---- Go tools: the kustomize renderer, helm, sops + age-keygen (versions pinned in scripts/build-*.sh) ----
FROM golang:${GO_VERSION}-bookworm AS tools
ENV XDG_CACHE_HOME=/cache
WORKDIR /src
COPY scripts/build-kustomize.sh scripts/build-helm.sh scripts/build-sops.sh scripts/go-install-cached.sh scripts/
COPY tools/kustomize-build/ tools/kustomize-build/
RUN mkdir -p /out \
 && install -m 0755 "$(bash scripts/build-kustomize.sh)" /out/kustomize-build \
 && install -m 0755 "$(bash scripts/build-helm.sh)" /out/helm \
 && sops_dir="$(bash scripts/build-sops.sh)" \
 && install -m 0755 "$sops_dir/sops" "$sops_dir/age-keygen" /out/

# ---- The compiled CLI: dist/ (esbuild) and the production node_modules ----
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off while src/ is not there yet (the `prepare` script bundles it); better-sqlite3's native addon is
# then fetched or compiled for this Node (python3, make and g++ are in this image).
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json ./
COPY bin/ bin/
COPY scripts/ scripts/
COPY src/ src/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- Runtime: Node (slim) + git + Kedge + its tools ----
FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/kedge
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY bin/ bin/
COPY scripts/ scripts/
COPY examples/ examples/
COPY --from=tools /out/ /opt/kedge/tools/
RUN ln -s /opt/kedge/bin/kedge.js /usr/local/bin/kedge
# Found by Kedge as prebuilt (checked at first use, never rebuilt): no Go in the image.
ENV KEDGE_KUSTOMIZE_BIN=/opt/kedge/tools/kustomize-build \
    KEDGE_HELM_BIN=/opt/kedge/tools/helm \
    KEDGE_SOPS_DIR=/opt/kedge/tools \
    HOME=/tmp \
    NODE_ENV=production
USER 1000:1000
ENTRYPOINT ["kedge"]
CMD ["--help"]
