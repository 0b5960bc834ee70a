# nslocate in a container: run it as a sidecar next to a service (docs/sidecar.md).
#
# The image is assembled from a prepared context, not from the repository, so that the build itself
# needs no network (no npm, no compiler in the image):
#
#   npm run build
#   bash scripts/build-image.sh                      # -> nslocate:local, offline (local base image)
#   BASE_IMAGE=node:22-bookworm-slim bash scripts/build-image.sh   # on a machine that can pull
#
# which is, by hand:
#
#   bash scripts/image-context.sh CTX                # CTX/app: npm pack + npm install --omit=dev + addon
#   docker build --network=none -f Dockerfile -t nslocate:local CTX
#
# The native addon is built on Debian 12 (glibc 2.36) against N-API, so it loads in any Node.js >= 20
# on a glibc >= 2.36 base: node:22-bookworm-slim, or nslocate-base:local (scripts/make-base-image.sh).
ARG BASE_IMAGE=node:22-bookworm-slim

# Stage 1: the app as staged on the host, checked inside the target base: node starts the CLI and can
# load the addon with the base's glibc and Node.js. Nothing of this stage but /opt/nslocate is kept.
FROM ${BASE_IMAGE} AS app
# The classic builder keeps this stage as an untagged image; the label lets build-image.sh remove it.
LABEL nslocate.stage=app
COPY app/ /opt/nslocate/
RUN node /opt/nslocate/bin/run.js --version \
 && node -e "require('/opt/nslocate/build/nslocate.node')" \
 && chmod 0755 /opt/nslocate/bin/run.js

# Stage 2: the base plus /opt/nslocate in one layer, and `nslocate` on PATH.
FROM ${BASE_IMAGE}
ARG VERSION=unknown
COPY --from=app /opt/nslocate /opt/nslocate
RUN ln -s /opt/nslocate/bin/run.js /usr/local/bin/nslocate
ENV NODE_ENV=production
LABEL org.opencontainers.image.title="nslocate" \
      org.opencontainers.image.description="Find, identify and signal a service's process across PID namespaces" \
      org.opencontainers.image.version="${VERSION}"
ENTRYPOINT ["nslocate"]
CMD ["--help"]
