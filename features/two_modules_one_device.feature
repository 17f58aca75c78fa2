@mqtt @twins
Feature: Two modules on one device
  Every module on a device subscribes to the same twin topics, yet the hub
  must deliver each module's desired changes to that module alone, and file
  each module's reported properties on that module's own twin.

  @smoke
  Scenario: Each of two modules receives only its own desired change and reports it back
    Given module "filter" exists on device "gateway"
    And module "forwarder" exists on device "gateway"
    And the modules of device "gateway" are:
      | filter    |
      | forwarder |
    And module "filter" is connected
    And module "forwarder" is connected
    When the service sets desired "telemetryInterval" of module "filter" to 10
    Then module "filter" receives a desired patch with "telemetryInterval" equal to 10
    And module "forwarder" receives nothing within 2 seconds
    When the service sets desired "telemetryInterval" of module "forwarder" to 20
    Then module "forwarder" receives a desired patch with "telemetryInterval" equal to 20
    And module "filter" receives nothing within 2 seconds
    When module "filter" reports "telemetryInterval" as 10
    And module "forwarder" reports "telemetryInterval" as 20
    Then the twin of module "filter" has reported "telemetryInterval" equal to 10
    And the twin of module "forwarder" has reported "telemetryInterval" equal to 20
    And the twin of device "gateway" does not have reported "telemetryInterval"

  Scenario: A remembered twin etag guards one write, then is stale
    Given module "filter" exists on device "gateway"
    And the service remembers "etag" of the twin of module "filter" as "etag"
    And the service remembers desired "$version" of the twin of module "filter" as "version"
    When the service sets desired "telemetryInterval" of module "filter" to 10 with etag "${etag}"
    Then the twin of module "filter" has desired "telemetryInterval" equal to 10
    And the twin of module "filter" has desired "$version" greater than ${version}
    When the service patches the twin of module "filter" with etag "${etag}":
      """
      {"properties": {"desired": {"telemetryInterval": 20}}}
      """
    Then the hub refuses with 412 PreconditionFailed
    And the twin of module "filter" has desired "telemetryInterval" equal to 10
