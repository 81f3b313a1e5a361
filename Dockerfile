# mcp-access container images, run as the non-root user 65532 on distroless (CA
# certificates, no shell). Every base is pinned by digest, so a rebuild uses the exact
# bytes that were reviewed; Dependabot (.github/dependabot.yml) proposes new digests.
#
# From source (the default, last stage):
#   docker build --build-arg MCP_ACCESS_COMMIT="$(git rev-parse HEAD)" -t mcp-access .
#   docker run --rm -e CLOUDFLARE_API_TOKEN -v "$PWD/access:/etc/mcp-access:ro" \
#     mcp-access run -f /etc/mcp-access
#
# The release image (.github/workflows/release.yml, `--target release`) copies the
# static musl binaries the release built, one per platform, from
# release-bins/<os>/<arch>/mcp-access: the image runs the very binary the release's
# SHA256SUMS and provenance describe, and builds in seconds for every architecture.

FROM rust:1-bookworm@sha256:93ce27a88655056a51dbdd8f5f2d7ddc071c7b0070fb288a37b5a285fc83971e AS build
# .git is not in the build context: the commit for `--version` comes from here.
ARG MCP_ACCESS_COMMIT=unknown
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin mcp-access \
 && cp target/release/mcp-access /usr/local/bin/mcp-access

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639 AS release
ARG TARGETPLATFORM
COPY release-bins/${TARGETPLATFORM}/mcp-access /usr/local/bin/mcp-access
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/mcp-access"]
CMD ["--help"]

FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f AS source
COPY --from=build /usr/local/bin/mcp-access /usr/local/bin/mcp-access
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/mcp-access"]
CMD ["--help"]
