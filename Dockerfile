# The Hubspec IoT Hub emulator as a container: FROM scratch around the static
# binary, so the image holds nothing but the emulator (no shell, no curl, no
# CA bundle: it needs none). The binary is built outside Docker, because no
# image registry is reachable here to pull a Go toolchain image from.
#
# The build context is a directory holding the binary and a copy of this
# file (make image does exactly this):
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o build/image/iothub-emulator ./cmd/iothub-emulator
#   cp Dockerfile build/image/ && docker build -t hubspec/iothub-emulator:dev build/image
#
# Run:  docker run --rm -p 443:443 -p 8883:8883 -p 5671:5671 hubspec/iothub-emulator:dev
# (add -v hubdata:/data -e IOTHUB_EMULATOR_DATA_DIR=/data to keep the hub's
# state across restarts). The first stdout line (docker logs) is
# IOTHUB_CONNECTION_STRING=...; the other policies' follow it. The CA
# clients must trust is /ca.pem in the container (docker cp CONTAINER:/ca.pem .).
# Its HostName is the container's view (port 443 is left out); a client that
# reaches the container through another host port puts that port in HostName:
# SAS scopes and MQTT user names are compared without the port.
# Flags go after the image name; every flag also reads IOTHUB_EMULATOR_<NAME>.
FROM scratch
COPY iothub-emulator /iothub-emulator
# All interfaces (the binary's defaults, spelled out), and the CA written
# where docker cp and the health check find it.
ENV IOTHUB_EMULATOR_HTTPS_ADDR=:443 \
    IOTHUB_EMULATOR_MQTT_ADDR=:8883 \
    IOTHUB_EMULATOR_AMQP_ADDR=:5671 \
    IOTHUB_EMULATOR_CA_OUT=/ca.pem
EXPOSE 443 8883 5671
# The health mode reads the same environment: it probes
# https://127.0.0.1:443/$hubspec/health and verifies TLS with /ca.pem.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/iothub-emulator", "healthcheck"]
ENTRYPOINT ["/iothub-emulator"]
