# syntax=docker/dockerfile:1
# mcp-access: a static-ish release build on Debian, run on distroless (CA certificates,
# glibc, no shell) as the non-root user 65532.
#
#   docker build -t mcp-access .
#   docker run --rm -e CLOUDFLARE_API_TOKEN -v "$PWD/access:/etc/mcp-access:ro" \
#     mcp-access run -f /etc/mcp-access

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin mcp-access \
 && cp target/release/mcp-access /usr/local/bin/mcp-access

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/mcp-access /usr/local/bin/mcp-access
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/mcp-access"]
CMD ["--help"]
