# Multi-stage: build with the full toolchain, run on a slim image with only the binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends cmake libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY migrations migrations
COPY assets assets
COPY src src
RUN cargo build --release --locked && strip target/release/dataflow

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata libssl3 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data dataflow && mkdir -p /data && chown dataflow /data
COPY --from=build /src/target/release/dataflow /usr/local/bin/dataflow
USER dataflow
ENV DATAFLOW_DATA_DIR=/data
EXPOSE 8001
ENTRYPOINT ["dataflow"]
CMD ["serve", "--bind", "0.0.0.0:8001"]
