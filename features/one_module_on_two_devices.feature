@mqtt @twins @identities
Feature: One module on two devices
  A hub names a module by its device and its own id: the same product
  module installed on several gateways is the normal case. A scenario
  names such a module with its device, module "telemetry" on device
  "gatewayB", and the hub keeps the two modules, their twins and their
  connections apart.

  @smoke
  Scenario: The same module name on two gateways keeps its twins and patches apart
    Given module "telemetry" exists on device "gatewayA"
    And module "telemetry" exists on device "gatewayB"
    And the modules of device "gatewayA" are:
      | telemetry |
    And the modules of device "gatewayB" are:
      | telemetry |
    And module "telemetry" on device "gatewayA" is connected
    And module "telemetry" on device "gatewayB" is connected
    When the service sets desired "interval" of module "telemetry" on device "gatewayB" to 20
    Then module "telemetry" on device "gatewayB" receives a desired patch with "interval" equal to 20
    And module "telemetry" on device "gatewayA" receives nothing within 2 seconds
    When module "telemetry" on device "gatewayA" reports "interval" as 10
    Then the twin of module "telemetry" on device "gatewayA" has reported "interval" equal to 10
    And the twin of module "telemetry" on device "gatewayB" does not have reported "interval"
    And the twin of module "telemetry" on device "gatewayB" names module "telemetry" on device "gatewayB"

  Scenario: Deleting the module on one gateway leaves the other's
    Given module "telemetry" exists on device "gatewayA"
    And module "telemetry" exists on device "gatewayB"
    When the service deletes module "telemetry" on device "gatewayA"
    Then reading module "telemetry" on device "gatewayA" is refused with 404 ModuleNotFound
    And the service reads module "telemetry" on device "gatewayB"

  Scenario: One wait watches every gateway's module, and a table checks every twin
    Given module "telemetry" exists on device "gatewayA"
    And module "telemetry" exists on device "gatewayB"
    And module "telemetry" exists on device "gatewayC"
    And module "telemetry" on device "gatewayA" is connected
    And module "telemetry" on device "gatewayB" is connected
    And module "telemetry" on device "gatewayC" is connected
    When the service patches the twin of module "telemetry" on device "gatewayA":
      """
      {"properties": {"desired": {"interval": 10, "mode": "eco"}}}
      """
    Then the desired patch module "telemetry" on device "gatewayA" received is:
      """
      {"interval": 10, "mode": "eco"}
      """
    And the desired patch module "telemetry" on device "gatewayA" received contains:
      """
      {"mode": "eco"}
      """
    And none of modules "telemetry" on device "gatewayB" and "telemetry" on device "gatewayC" receives anything within 2 seconds
    When module "telemetry" on device "gatewayB" reports "interval" as 20
    Then the twins have:
      | twin                                  | desired.interval | reported.interval |
      | module "telemetry" on device "gatewayA" | 10               |                   |
      | module "telemetry" on device "gatewayB" |                  | 20                |
