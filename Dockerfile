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

# Plan stage: stand-ins for every target Cargo.toml declares, generated
# from `cargo metadata` so they cannot drift from the manifest (a list
# written by hand broke the build when the irc, matrix and web benches were
# added). Re-run on every change, in a second; its output changes only
# with Cargo.toml, Cargo.lock or the targets' paths.
FROM rust:1.95-slim-bookworm AS plan
WORKDIR /src
COPY . .
RUN sh scripts/docker-stand-ins.sh /stand-ins

# Build stage: the toolchain the project is tested with. Dependencies
# first, from the stand-ins, so code changes do not rebuild them; then the
# stand-ins' own artifacts are removed so the real code is built for sure
# (the stand-ins share its package id and may be newer than its files).
# CI replays these steps without a container engine
# (scripts/check-dockerfile.sh, run by .ci/run).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY --from=plan /stand-ins/ ./
RUN cargo build --release --locked --bin podium \
    && cargo clean --release -p podium
COPY . .
RUN cargo build --release --locked --bin podium \
    && install -m 0755 target/release/podium /usr/local/bin/podium

# Runtime stage: no compiler, no shell tools beyond Debian's base.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin podium \
    && mkdir -p /config \
    && install -d -m 0700 -o podium -g podium /data
COPY --from=build /usr/local/bin/podium /usr/local/bin/podium
COPY debates.yaml /config/debates.yaml
ENV PODIUM_DATA_DIR=/data \
    PODIUM_SCHEDULE=/config/debates.yaml
VOLUME ["/data"]
USER podium
WORKDIR /data
ENTRYPOINT ["podium"]
CMD ["run"]
