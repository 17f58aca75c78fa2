@smoke
Feature: Our first module on the hub
  A starter written by "hubspec init": a back-end creates a device and a
  module with keys the hub assigns, sets the module's telemetry interval in
  its twin, and the connected module receives it and reports it back.
  Run it with "hubspec run features"; list every step with "hubspec steps".

  @identities
  Scenario: The service creates a device and a module with hub-assigned keys
    When the service creates device "gateway" with hub-assigned keys
    Then device "gateway" has two hub-assigned keys
    When the service creates module "sensor" on device "gateway" with hub-assigned keys
    Then module "sensor" has two hub-assigned keys

  @twins @mqtt
  Scenario: The connected module receives its new telemetry interval and reports it
    Given module "sensor" exists on device "gateway"
    And module "sensor" is connected
    When the service sets desired "telemetryInterval" of module "sensor" to 30 with the twin's etag
    Then module "sensor" receives a desired patch with "telemetryInterval" equal to 30
    When module "sensor" reports "telemetryInterval" as 30
    Then the twin of module "sensor" has reported "telemetryInterval" equal to 30
