# Lifeline: a static binary on distroless, run as a non-root user.
#
#   docker build -t lifeline .
#   docker run --rm -p 8080:8080 --env-file lifeline.env lifeline
#
# Fly.io builds it with `fly deploy` (see fly.toml and the README's Deploy
# section). Content is embedded in the binary; a programme's overrides can
# go in ./content (flows/, locales/, packs/), copied to /content in the image
# and used with CONTENT_DIR=/content.

# Keep in step with the go line of go.mod.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local

# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
# timetzdata embeds the time zone database: people's time zones are loaded
# by name, and must not depend on files in the image.
RUN go build -trimpath -tags timetzdata -ldflags "-s -w" -o /out/lifeline ./cmd/lifeline

# Optional content overrides; an empty /content changes nothing.
RUN mkdir -p /out/content && if [ -d content ]; then cp -R content/. /out/content/; fi

# Fail the build, not the start, on content errors: `lifeline serve`
# refuses to start with them anyway. Warnings do not fail.
RUN /out/lifeline check /out/content

# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot"
# (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/lifeline /lifeline
COPY --from=build /out/content /content
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/lifeline"]
CMD ["serve"]
