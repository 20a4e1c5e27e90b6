# The image a Kubernetes Indexed Job's load workers run: loadprof and
# nothing it does not need. Build it beside the source:
#
#   docker build -t registry.example.com/loadprof:0.1 .
#
# The build stage compiles a release binary; the runtime stage is
# distroless (glibc and libgcc, no shell, no package manager) and runs as a
# non-root user. TLS needs no CA bundle: loadprof carries the Mozilla roots.
# The profilers (py-spy, memray, perf) are not here: they belong beside the
# target, not in the load pods.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so a change to loadprof's own code does not fetch
# and build them again.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && strip target/release/loadprof

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/loadprof /usr/local/bin/loadprof
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/loadprof"]
CMD ["--help"]
