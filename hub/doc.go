// Package hub is Hubspec's vocabulary of Azure IoT Hub: connection strings,
// shared access signatures, the error table (HTTP status, six-digit code,
// iothub-errorcode name), the identity and twin types, topic names and
// redaction of secrets. It holds no client and no MQTT library, so the
// emulator and the clients share words, never an implementation: the
// emulator verifies SAS tokens with its own code, and a shared bug cannot
// agree with itself.
//
// The clients live beside it: hub/service (the registry and twin REST API,
// as a back-end uses it) and hub/device (a device's or module's MQTT
// connection).
package hub
