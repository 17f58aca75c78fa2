@pnp
Feature: IoT Plug and Play
  A Plug and Play device announces the DTDL model it implements when it
  connects, and the hub shows it on the twin. The service sees the device
  through its digital twin: components, writable properties with the
  device's acknowledgement, read-only properties. A JSON patch of the
  digital twin reaches the device as a desired patch, components marked
  "__t": "c", and a command is a direct method the device answers,
  "{component}*{command}" for a component's.

  Scenario Outline: A <kind> announces its model and its twin shows it
    Given module "thermostat" exists on device "controller"
    When <kind> "<name>" is connected announcing model "dtmi:com:example:TemperatureController;1"
    Then the twin of <kind> "<name>" has "modelId" equal to "dtmi:com:example:TemperatureController;1"

    Examples:
      | kind   | name       |
      | device | controller |
      | module | thermostat |

  Scenario: The digital twin of a device names it and its model
    Given device "controller" exists
    When device "controller" is connected announcing model "dtmi:com:example:TemperatureController;1"
    Then the digital twin of device "controller" matches:
      """
      {"$metadata": {"$model": "dtmi:com:example:TemperatureController;1"}}
      """

  Scenario Outline: A model id that is not a DTMI is refused: <why>
    Given device "controller" exists
    When device "controller" connects announcing model "<model>"
    Then the hub refuses the connection as not authorized
    And the twin of device "controller" has "modelId" equal to ""

    Examples:
      | why                      | model                         |
      | no dtmi scheme           | com:example:Thermostat;1      |
      | no version               | dtmi:com:example:Thermostat   |
      | version 0                | dtmi:com:example:Thermostat;0 |
      | a segment starts a digit | dtmi:com:1example:Thermo;1    |

  Scenario: Writable properties show the desired value and the device's acknowledgement
    Given device "controller" exists
    And device "controller" is connected announcing model "dtmi:com:example:TemperatureController;1"
    When the service sets desired "fanSpeed" of device "controller" to 2
    And device "controller" sends the reported patch {"serialNumber": "alwinexlepaho8329", "fanSpeed": {"value": 2, "ac": 200, "av": 2, "ad": "done"}, "thermostat1": {"__t": "c", "maxTempSinceLastReboot": 25.3}}
    Then the digital twin of device "controller" matches:
      """
      {
        "serialNumber": "alwinexlepaho8329",
        "fanSpeed": 2,
        "thermostat1": {"maxTempSinceLastReboot": 25.3, "__t": null},
        "$metadata": {
          "$model": "dtmi:com:example:TemperatureController;1",
          "fanSpeed": {"desiredValue": 2, "desiredVersion": 2, "ackVersion": 2, "ackCode": 200, "ackDescription": "done"}
        }
      }
      """

  Scenario: A JSON patch of a component reaches the device as a desired patch with the component marker
    Given device "controller" exists
    And device "controller" is connected announcing model "dtmi:com:example:TemperatureController;1"
    When the service patches the digital twin of device "controller" with [{"op": "add", "path": "/thermostat1/targetTemperature", "value": 21.4}]
    Then the desired patch device "controller" received is:
      """
      {"thermostat1": {"__t": "c", "targetTemperature": 21.4}}
      """
    And the twin of device "controller" has desired "thermostat1.__t" equal to "c"
    And the digital twin of device "controller" matches:
      """
      {"thermostat1": {"$metadata": {"targetTemperature": {"desiredValue": 21.4, "desiredVersion": 2}}}}
      """

  Scenario: A patch with the etag the service read is refused once the digital twin has changed
    Given device "controller" exists
    And the digital twin of device "controller" matches:
      """
      {}
      """
    When the service patches the digital twin of device "controller" with [{"op": "add", "path": "/fanSpeed", "value": 1}] with the etag it last read
    And the service patches the digital twin of device "controller" with [{"op": "replace", "path": "/fanSpeed", "value": 3}] with the etag it last read
    Then the hub refuses with 412 PreconditionFailed
    And the twin of device "controller" has desired "fanSpeed" equal to 1

  Scenario Outline: A patch that breaks the rules is refused whole: <why>
    Given device "controller" exists
    When the service patches the digital twin of device "controller" with <patch>
    Then the hub refuses with 400 ArgumentInvalid
    And the twin of device "controller" does not have desired "ok"

    Examples:
      | why                        | patch                                                                                                         |
      | a move                     | [{"op": "add", "path": "/ok", "value": 1}, {"op": "move", "from": "/ok", "path": "/other"}]                     |
      | a name that is not DTDL    | [{"op": "add", "path": "/ok", "value": 1}, {"op": "add", "path": "/target-temperature", "value": 1}]           |
      | an array value             | [{"op": "add", "path": "/ok", "value": 1}, {"op": "add", "path": "/thermostat1/modes", "value": [1, 2]}]        |
      | a path three levels deep   | [{"op": "add", "path": "/ok", "value": 1}, {"op": "add", "path": "/thermostat1/target/value", "value": 1}]      |

  Scenario Outline: A command <which> is answered by the device as the direct method "<method>"
    Given device "controller" exists
    And device "controller" is connected announcing model "dtmi:com:example:TemperatureController;1"
    And device "controller" answers method "<method>" with status 200 and payload {"maxTemp": 25.3}
    When the service invokes command <call> on device "controller" with payload "2020-07-17T06:11:04Z"
    Then the command <call> on device "controller" returns status 200 and payload {"maxTemp": 25.3}
    And device "controller" received method "<method>" with payload "2020-07-17T06:11:04Z"

    Examples:
      | which             | call                                              | method                      |
      | of the device     | "getMaxMinReport"                                 | getMaxMinReport             |
      | of a component    | "getMaxMinReport" of component "thermostat1"      | thermostat1*getMaxMinReport |

  Scenario: A command to a device that is not connected is refused as the direct method is
    Given device "controller" exists
    When the service invokes command "reboot" of component "thermostat1" on device "controller" and response timeout 5
    Then the hub refuses with 404 DeviceNotOnline
