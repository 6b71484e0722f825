# ldexport container image: multi-stage, built with the project's own install script.
#   docker build -t ldexport:0.1.0 .
# Runs as a non-root user and works with a read-only root filesystem: mount the
# config at /etc/ldexport, state and archive at /var/lib/ldexport.

FROM debian:12 AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN bash /src/scripts/install-deps.sh --build-only
COPY . /src
WORKDIR /src
RUN bash scripts/build.sh release -DLDX_BUILD_TESTS=OFF \
 && strip --strip-debug build/release/bin/ldexport

FROM debian:12-slim
# Only the shared libraries ldexport links, plus CA certificates and curl for HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl libcurl4 libsimdjson14 librdkafka1 libpqxx-6.4 libpq5 libyaml-cpp0.7 \
      libspdlog1.10 libfmt9 libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ldexport \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/ldexport --shell /usr/sbin/nologin ldexport \
 && mkdir -p /var/lib/ldexport /etc/ldexport \
 && chown 10001:10001 /var/lib/ldexport
COPY --from=build /src/build/release/bin/ldexport /usr/local/bin/ldexport
COPY config/example.yaml /etc/ldexport/ldexport.yaml
USER 10001:10001
WORKDIR /var/lib/ldexport
VOLUME ["/var/lib/ldexport"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9464/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/ldexport"]
CMD ["run", "-c", "/etc/ldexport/ldexport.yaml"]
