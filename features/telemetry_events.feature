@telemetry @events
Feature: Telemetry and the hub's events on the built-in endpoint
  A back-end reads what devices and modules send, and what the hub itself
  reports about twins and identities, from the hub's built-in endpoint: an
  Event Hubs-compatible stream read over AMQP with the Event Hubs client.
  Each message arrives as it was sent, named with the identity that sent
  it; a twin change arrives as a twin-change event carrying the changed
  properties; creating and deleting an identity arrive as lifecycle events.
  A hub routes twin-change and lifecycle events there when a route asks for
  them, as test hubs do, and the emulator does by default. The reader keeps
  the scenario's own identities' events only.

  Scenario Outline: The service receives a <kind>'s telemetry exactly as it was sent
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service reads the built-in endpoint
    When <kind> "<name>" sends telemetry {"temperature": 21.5} with properties {"unit": "C", "alert": "false"}
    And <kind> "<name>" sends telemetry "plain text"
    Then the service receives telemetry {"temperature": 21.5} from <kind> "<name>" with properties {"unit": "C", "alert": "false"}
    And the service receives telemetry "plain text" from <kind> "<name>"

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario: Each identity's telemetry is received from that identity
    Given module "thermostat" exists on device "house"
    And module "hygrometer" exists on device "house"
    And module "thermostat" is connected
    And module "hygrometer" is connected
    And the service reads the built-in endpoint
    When module "hygrometer" sends telemetry {"humidity": 40}
    And module "thermostat" sends telemetry {"temperature": 20}
    Then the service receives telemetry {"temperature": 20} from module "thermostat"
    And the service receives telemetry {"humidity": 40} from module "hygrometer"

  Scenario Outline: A <section> property change of a <kind> produces a twin-change event
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service reads the built-in endpoint
    When <change>
    Then the service receives a twin-change event for <kind> "<name>" whose <section> properties contain:
      """
      {"telemetryInterval": 30}
      """

    Examples:
      | kind   | name       | section  | change                                                         |
      | module | thermostat | reported | module "thermostat" reports "telemetryInterval" as 30          |
      | device | house      | reported | device "house" reports "telemetryInterval" as 30               |
      | module | thermostat | desired  | the service sets desired "telemetryInterval" of module "thermostat" to 30 |

  Scenario: Creating and deleting a device and a module produce lifecycle events
    Given the service reads the built-in endpoint
    And module "thermostat" exists on device "house"
    When the service deletes module "thermostat"
    And the service deletes device "house"
    Then the service receives a lifecycle event createDeviceIdentity for device "house"
    And the service receives a lifecycle event createModuleIdentity for module "thermostat" on device "house"
    And the service receives a lifecycle event deleteModuleIdentity for module "thermostat" on device "house"
    And the service receives a lifecycle event deleteDeviceIdentity for device "house"
