@mqtt
Feature: Devices and modules over MQTT
  Devices and modules talk to the hub over MQTT with a SAS token of their
  own: they read their twin, report properties and receive desired changes.
  The hub refuses bad credentials, keeps one connection per identity, closes
  connections that break its rules, and treats devices and modules alike,
  over MQTT over TLS and over MQTT over WebSockets.

  Scenario Outline: A <kind> reads its twin over <transport>: desired and reported properties, nothing else
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"tags": {"room": "kitchen"}, "properties": {"desired": {"telemetryInterval": 30}}}
      """
    When <kind> "<name>" is connected over <transport>
    Then the twin of <kind> "<name>" as the <kind> reads it has "desired.telemetryInterval" equal to 30
    And the twin of <kind> "<name>" as the <kind> reads it has desired "telemetryInterval" of type number
    And the twin of <kind> "<name>" as the <kind> reads it has "desired.$version" equal to 2
    And the twin of <kind> "<name>" as the <kind> reads it has "reported.$version" equal to 1
    And the twin of <kind> "<name>" as the <kind> reads it does not have "tags"
    And the twin of <kind> "<name>" as the <kind> reads it does not have "desired.$metadata"

    Examples:
      | kind   | name       | transport  |
      | device | house      | TLS        |
      | module | thermostat | TLS        |
      | device | house      | WebSockets |
      | module | thermostat | WebSockets |

  Scenario Outline: A report from a <kind> over <transport> is acknowledged with the new reported version
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected over <transport>
    When <kind> "<name>" reports "telemetryInterval" as 30
    Then the hub acknowledged the report of <kind> "<name>" with reported version 2
    And the twin of <kind> "<name>" has reported "telemetryInterval" equal to 30

    Examples:
      | kind   | name       | transport  |
      | device | house      | TLS        |
      | module | thermostat | TLS        |
      | device | house      | WebSockets |
      | module | thermostat | WebSockets |

  Scenario Outline: A connected <kind> receives a desired change over <transport> with the twin's version
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected over <transport>
    When the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    Then <kind> "<name>" receives a desired patch with "telemetryInterval" equal to 30
    And the patch <kind> "<name>" received has the twin's desired version

    Examples:
      | kind   | name       | transport  |
      | device | house      | TLS        |
      | module | thermostat | TLS        |
      | device | house      | WebSockets |
      | module | thermostat | WebSockets |

  Scenario Outline: The hub refuses a <kind> that signs in with <credentials>
    Given module "thermostat" exists on device "house"
    When <kind> "<name>" connects with <credentials>
    Then the hub refuses the connection as not authorized

    Examples:
      | kind   | name       | credentials                  |
      | device | house      | a wrong key                  |
      | module | thermostat | a wrong key                  |
      | device | house      | an expired token             |
      | module | thermostat | an expired token             |
      | device | house      | a token for another identity |
      | module | thermostat | a token for another identity |
      | device | house      | the client id of another identity |
      | module | thermostat | the client id of another identity |

  Scenario Outline: A disabled device, and any module on it, cannot connect
    Given module "thermostat" exists on device "house"
    And the service has disabled device "house"
    When <kind> "<name>" connects with its own key
    Then the hub refuses the connection as the device is disabled

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A desired change made while a <kind> is offline is in its twin when it comes back
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And <kind> "<name>" disconnects
    When the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    And <kind> "<name>" is connected
    Then the twin of <kind> "<name>" as the <kind> reads it has "desired.telemetryInterval" equal to 30

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A desired change made while a <kind> is offline is not queued for its session
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    And <kind> "<name>" subscribes to desired property changes
    And <kind> "<name>" disconnects
    And the twin of <kind> "<name>" has "connectionState" equal to "Disconnected"
    When the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    And <kind> "<name>" opens another bare MQTT connection
    Then <kind> "<name>" receives nothing within 2 seconds
    When the service sets desired "telemetryInterval" of <kind> "<name>" to 60
    Then <kind> "<name>" receives a desired patch with "telemetryInterval" equal to 60 on its bare connection

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Desired changes reach a <kind> in version order and none is lost
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    When the service sets desired "step" of <kind> "<name>" to 1
    And the service sets desired "step" of <kind> "<name>" to 2
    And the service sets desired "step" of <kind> "<name>" to 3
    Then <kind> "<name>" receives desired patches in version order until "step" is 3
    And the patch <kind> "<name>" received has the twin's desired version

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A <kind> that unsubscribes from desired changes receives no more of them
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    And <kind> "<name>" subscribes to desired property changes
    And the service has patched the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"telemetryInterval": 30}}}
      """
    And <kind> "<name>" receives a desired patch with "telemetryInterval" equal to 30 on its bare connection
    When <kind> "<name>" unsubscribes from desired property changes
    And the service sets desired "telemetryInterval" of <kind> "<name>" to 60
    Then <kind> "<name>" receives nothing within 3 seconds

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A <kind> that never subscribed to desired changes can still report
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    And <kind> "<name>" subscribes to twin responses
    When <kind> "<name>" publishes {"telemetryInterval": 30} on the reported properties topic
    Then <kind> "<name>" gets the answer 204 with version 2 on its bare connection
    And the twin of <kind> "<name>" has reported "telemetryInterval" equal to 30

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A reported patch that is not a JSON object of properties is refused with 400
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    When <kind> "<name>" sends the reported patch <patch>
    Then the hub refuses with 400 <error>
    And the twin of <kind> "<name>" does not have reported "telemetryInterval"

    Examples:
      | kind   | name       | patch                       | error             |
      | device | house      | {"telemetryInterval": }     | IotHubFormatError |
      | module | thermostat | {"telemetryInterval": }     | IotHubFormatError |
      | module | thermostat | [{"telemetryInterval": 30}] | ArgumentInvalid   |
      | module | thermostat | {"$version": 7}             | ArgumentInvalid   |

  Scenario Outline: The hub closes the connection of a <kind> that publishes <what>
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    When <kind> "<name>" publishes {"temperature": 21} on <topic>
    Then the hub closes the latest bare connection of <kind> "<name>"

    Examples:
      | kind   | name       | what                     | topic                               |
      | device | house      | with QoS 2               | its telemetry topic with QoS 2      |
      | module | thermostat | with QoS 2               | its telemetry topic with QoS 2      |
      | device | house      | for another device       | another device's telemetry topic    |
      | module | thermostat | for another device       | another device's telemetry topic    |
      | module | thermostat | on a topic the hub lacks | an unknown topic                    |

  Scenario Outline: The hub closes the connection of a <kind> that subscribes to <what>
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    When <kind> "<name>" subscribes to <what>
    Then the hub closes the latest bare connection of <kind> "<name>"

    Examples:
      | kind   | name       | what                      |
      | device | house      | every topic               |
      | module | thermostat | every topic               |
      | device | house      | another device's messages |

  Scenario Outline: A retained message from a <kind> is taken as an ordinary one
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    When <kind> "<name>" publishes {"temperature": 21} on its telemetry topic with the retain flag
    Then the latest bare connection of <kind> "<name>" stays open

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A second connection of the same <kind> closes the first
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    When <kind> "<name>" opens another bare MQTT connection
    Then the hub closes the first bare connection of <kind> "<name>"
    And the latest bare connection of <kind> "<name>" stays open

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @time
  Scenario Outline: A <kind> that renews its short-lived token keeps its session
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected with a token that lasts 3 seconds
    When 3 seconds pass
    Then <kind> "<name>" has renewed its token
    And <kind> "<name>" receives nothing within 5 seconds
    When the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    Then <kind> "<name>" receives a desired patch with "telemetryInterval" equal to 30
    When <kind> "<name>" reports "telemetryInterval" as 30
    Then the twin of <kind> "<name>" has reported "telemetryInterval" equal to 30

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @emulator-only @time
  Scenario Outline: A token renewal is a new connection that keeps the session of the <kind>
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected with a token that lasts 2 seconds
    When 2 seconds pass
    Then the hub has accepted 2 connections of <kind> "<name>"
    When the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    Then <kind> "<name>" receives a desired patch with "telemetryInterval" equal to 30

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @slow
  Scenario Outline: Reports, twin reads and desired changes that overlap on a <kind> are all acknowledged and add up
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service has read the twin of <kind> "<name>"
    When <kind> "<name>" reports 20 properties and reads its twin 20 times while the service sets 20 desired properties, all at once
    Then the reported version of <kind> "<name>" has gone up by 20 since the service read it
    And the desired version of <kind> "<name>" has gone up by 20 since the service read it
    And the twin of <kind> "<name>" has reported "r20" equal to 20
    And the twin of <kind> "<name>" as the <kind> reads it has "desired.d20" equal to 20
    And <kind> "<name>" receives desired patches in version order until "d20" is 20

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @slow
  Scenario: Many modules on one device and many devices each receive only their own desired change
    Given device "house" exists
    And the service creates 10 modules on device "house"
    And the service creates devices "fleet-1" to "fleet-10"
    And modules "house-1" to "house-10" are connected
    And devices "fleet-1" to "fleet-10" are connected
    When the service sets desired "owner" of modules "house-1" to "house-10" to their own names
    And the service sets desired "owner" of devices "fleet-1" to "fleet-10" to their own names
    Then modules "house-1" to "house-10" each receive their own name in "owner" and nothing else within 3 seconds
    And devices "fleet-1" to "fleet-10" each receive their own name in "owner" and nothing else within 3 seconds

  @limits
  Scenario Outline: Reported properties fill up to 32 KB, and not a byte more
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    When <kind> "<name>" reports properties of 32768 bytes
    Then the twin of <kind> "<name>" has reported "p08"
    When <kind> "<name>" reports properties of 32769 bytes
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |
