# Build: docker build -t headwater .
# Run:   docker run -p 8080:8080 -v hw-data:/data headwater
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/headwater ./cmd/headwater && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/headwater /usr/local/bin/headwater
# The data directory belongs to the unprivileged user the server runs as;
# a named volume mounted there inherits that ownership.
COPY --from=build --chown=65532:65532 /out/data /data
ENV HEADWATER_DATA_DIR=/data HEADWATER_HTTP_ADDR=0.0.0.0:8080 HEADWATER_LDAP_ADDR=0.0.0.0:3389
VOLUME /data
EXPOSE 8080 3389
USER nonroot
ENTRYPOINT ["/usr/local/bin/headwater"]
CMD ["serve"]
