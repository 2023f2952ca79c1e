# Podium in a container: one binary, a schedule and a data volume.
#   docker build -t podium .
#   docker run -v podium-data:/data -v "$PWD/debates.yaml:/config/debates.yaml:ro" \
#     -e PODIUM_MATRIX_HOMESERVER=https://matrix.example.org \
#     -e PODIUM_MATRIX_USER=@podium:example.org \
#     -e PODIUM_MATRIX_PASSWORD_FILE=/run/secrets/matrix-password podium
# Settings come from PODIUM_* variables (see podium.example.toml), or from a
# file: mount it at /config/podium.toml and run `podium --config
# /config/podium.toml run`. `docker stop` sends SIGTERM: Podium commits what
# it received and exits 0.
# Build stage: the toolchain the project is tested with.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
# Stand-ins for every target Cargo.toml names, so the manifest is valid.
RUN mkdir src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/replies.rs \
    && cargo build --release --locked --bin podium && rm -rf src benches
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin podium \
    && install -m 0755 target/release/podium /usr/local/bin/podium

# Runtime stage: no compiler, no shell tools beyond Debian's base.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin podium \
    && mkdir -p /data /config && chown podium:podium /data
COPY --from=build /usr/local/bin/podium /usr/local/bin/podium
COPY debates.yaml /config/debates.yaml
ENV PODIUM_DATA_DIR=/data \
    PODIUM_SCHEDULE=/config/debates.yaml
VOLUME ["/data"]
USER podium
WORKDIR /data
ENTRYPOINT ["podium"]
CMD ["run"]
