@emulator-only
Feature: A hub that fails
  Connections break: the network drops them, or the hub does. A device or
  module then reconnects by itself, catches up on the desired changes it
  missed and goes on reporting, each report counted once. Only an emulator
  can break a connection on purpose, so these scenarios run on it alone.

  Scenario Outline: A <kind> whose connection the hub drops catches up and reports once
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service has read the twin of <kind> "<name>"
    When the hub drops the connection of <kind> "<name>"
    And the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    Then the hub has accepted 2 connections of <kind> "<name>"
    And <kind> "<name>" receives desired patches in version order until "telemetryInterval" is 30
    When <kind> "<name>" reports "telemetryInterval" as 30
    Then the reported version of <kind> "<name>" has gone up by 1 since the service read it
    And the service sees reported "telemetryInterval" of <kind> "<name>" equal to 30

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |
