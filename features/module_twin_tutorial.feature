@smoke
Feature: Module identity and module twin
  The "module identity and module twin" tutorial: a back-end service creates a
  device and a module on it with keys the hub assigns, configures the module
  through the desired properties of its module twin, and the connected module
  receives that configuration and reports it back.

  @identities
  Scenario: The service creates a device and a module with hub-assigned keys
    When the service creates device "myFirstDevice" with hub-assigned keys
    Then device "myFirstDevice" has two hub-assigned keys
    When the service creates module "myFirstModule" on device "myFirstDevice" with hub-assigned keys
    Then module "myFirstModule" has two hub-assigned keys

  @identities
  Scenario: Running the creation again reuses the identities that already exist
    Given module "myFirstModule" exists on device "myFirstDevice"
    When the service creates device "myFirstDevice" with hub-assigned keys
    Then the hub refuses with 409 DeviceAlreadyExists
    When the service reuses the existing device "myFirstDevice"
    Then device "myFirstDevice" has the same keys as when it was first created
    When the service creates module "myFirstModule" on device "myFirstDevice" with hub-assigned keys
    Then the hub refuses with 409 ModuleAlreadyExistsOnDevice
    When the service reuses the existing module "myFirstModule"
    Then module "myFirstModule" has the same keys as when it was first created

  @twins
  Scenario: The service sets the module's telemetry interval through its twin
    Given module "myFirstModule" exists on device "myFirstDevice"
    When the service reads the twin of module "myFirstModule"
    And the service sets desired "telemetryInterval" of module "myFirstModule" to 122 with the twin's etag
    Then the twin of module "myFirstModule" has desired "telemetryInterval" equal to 122
    And the desired version of module "myFirstModule" has gone up since the service read it

  @twins @mqtt
  Scenario: The connected module receives the new telemetry interval
    Given module "myFirstModule" exists on device "myFirstDevice"
    And module "myFirstModule" is connected
    When the service sets desired "telemetryInterval" of module "myFirstModule" to 122 with the twin's etag
    Then module "myFirstModule" receives a desired patch with "telemetryInterval" equal to 122
    And the patch module "myFirstModule" received has the twin's desired version

  @twins @mqtt
  Scenario: The module reports the telemetry interval back to the service
    Given module "myFirstModule" exists on device "myFirstDevice"
    And module "myFirstModule" is connected
    When module "myFirstModule" reports "telemetryInterval" as 122
    Then the twin of module "myFirstModule" has reported "telemetryInterval" equal to 122

  @twins
  Scenario: A patch made with an outdated etag is refused and changes nothing
    Given module "myFirstModule" exists on device "myFirstDevice"
    And the service has read the twin of module "myFirstModule"
    And someone else has since set desired "telemetryInterval" of module "myFirstModule" to 5
    When the service sets desired "telemetryInterval" of module "myFirstModule" to 122 with the twin's etag
    Then the hub refuses with 412 PreconditionFailed
    And the twin of module "myFirstModule" has desired "telemetryInterval" equal to 5

  @mqtt
  Scenario: A module with a wrong key cannot connect
    Given module "myFirstModule" exists on device "myFirstDevice"
    When module "myFirstModule" connects with a wrong key
    Then the hub refuses the connection as not authorized

  @identities @twins @mqtt
  Scenario: The whole tutorial, end to end
    When the service creates device "myFirstDevice" with hub-assigned keys
    And the service creates module "myFirstModule" on device "myFirstDevice" with hub-assigned keys
    And module "myFirstModule" is connected
    And the service reads the twin of module "myFirstModule"
    And the service sets desired "telemetryInterval" of module "myFirstModule" to 122 with the twin's etag
    Then module "myFirstModule" receives a desired patch with "telemetryInterval" equal to 122
    When module "myFirstModule" reports "telemetryInterval" as 122
    Then the twin of module "myFirstModule" has reported "telemetryInterval" equal to 122
