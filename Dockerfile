# mcp-access: one image for the GitHub Action's users who prefer a container, and for
# the long-running controller. Multi-stage: the toolchain stays in the build stage.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# `mcp-access demo` embeds examples/demo.yaml.
COPY examples ./examples
RUN cargo build --release --locked --bin mcp-access

# distroless/cc: glibc, CA certificates and tzdata, no shell, runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/mcp-access /usr/local/bin/mcp-access
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/mcp-access"]
CMD ["--help"]
