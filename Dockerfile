# slotgate container image.
#   docker build -t slotgate:0.1.0 .
#   docker run --rm -p 7777:7777 -p 7778:7778 -e SLOTGATE_SEEDS=redis-0.redis:6379 slotgate:0.1.0
# Every setting comes from SLOTGATE_* variables (or a JSON file given with SLOTGATE_CONFIG); see README.

# Build stage: Debian bookworm with the -dev packages slotgate builds against.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libev-dev libhiredis-dev libjansson-dev libmicrohttpd-dev libssl-dev liburing-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" slotgate && strip slotgate

# Runtime stage: the shared libraries slotgate links and nothing else (no compiler, no shell tools
# beyond bookworm-slim's own).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libev4 libhiredis0.14 libjansson4 libmicrohttpd12 libssl3 liburing2 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin slotgate
COPY --from=build /src/slotgate /usr/local/bin/slotgate
# In a container the proxy and its admin endpoint must be reachable from outside the container's
# loopback (other pods, the kubelet's probes). With no SLOTGATE_REQUIREPASS (or users), protected-mode
# serves only clients from 127.0.0.1 (a sidecar's application), and with no SLOTGATE_ADMIN_TOKEN the
# admin endpoint answers other addresses only on /healthz and /readyz (the kubelet's probes).
ENV SLOTGATE_BIND=0.0.0.0 \
    SLOTGATE_PORT=7777 \
    SLOTGATE_ADMIN_BIND=0.0.0.0 \
    SLOTGATE_ADMIN_PORT=7778
USER 10001
EXPOSE 7777 7778
# bash's /dev/tcp: an HTTP/1.0 GET of /healthz with no client installed in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${SLOTGATE_ADMIN_PORT:-7778} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/slotgate"]
