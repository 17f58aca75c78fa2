@faults @emulator-only
Feature: A hub that fails
  Connections break: the network drops them, or the hub does. A device or
  module then reconnects by itself, catches up on the desired changes it
  missed and goes on reporting, each report counted once. A throttled hub
  answers 429 until the throttle passes, and a client that backs off gets
  through. The official SDKs' test suites make a hub fail on purpose with a
  fault-injection telemetry message, which live hubs no longer honour, and
  only an emulator fails on request; so these scenarios run on it alone.

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
    And the twin of <kind> "<name>" has reported "telemetryInterval" equal to 30

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A <kind> that asks the hub for <fault> reconnects by itself, catches up and reports once
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service has read the twin of <kind> "<name>"
    When <kind> "<name>" requests the fault <fault>
    And the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    Then the hub has accepted 2 connections of <kind> "<name>"
    And <kind> "<name>" receives desired patches in version order until "telemetryInterval" is 30
    When <kind> "<name>" reports "telemetryInterval" as 30
    Then the reported version of <kind> "<name>" has gone up by 1 since the service read it
    And the twin of <kind> "<name>" has reported "telemetryInterval" equal to 30

    Examples:
      | kind   | name       | fault        |
      | device | house      | KillTcp      |
      | module | thermostat | KillTcp      |
      | device | house      | ShutDownMqtt |
      | module | thermostat | ShutDownMqtt |

  @time
  Scenario Outline: A <kind> that asks to be throttled is answered 429 until the throttle passes
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service has read the twin of <kind> "<name>"
    When <kind> "<name>" requests the fault InvokeThrottling lasting 3 seconds
    And <kind> "<name>" reads its own twin
    Then the hub refuses with 429 ThrottlingException
    When <kind> "<name>" reports "telemetryInterval" as 30
    Then the hub refuses with 429 ThrottlingException
    When 3 seconds pass
    And <kind> "<name>" keeps reporting "telemetryInterval" as 31 until the hub accepts it
    Then the reported version of <kind> "<name>" has gone up by 1 since the service read it
    And the twin of <kind> "<name>" has reported "telemetryInterval" equal to 31

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A throttled twin request of a <kind> is answered on res/429 and its telemetry still goes through
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    And <kind> "<name>" subscribes to twin responses
    When <kind> "<name>" requests the fault InvokeThrottling lasting 5 seconds on its bare connection
    And <kind> "<name>" publishes {"telemetryInterval": 30} on the reported properties topic
    Then <kind> "<name>" gets the answer 429 on its bare connection
    When <kind> "<name>" publishes {"temperature": 21} on its telemetry topic
    Then the latest bare connection of <kind> "<name>" stays open

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @time
  Scenario Outline: A <kind> that asks for an authentication error is cut off and refused until the fault passes
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" opens a bare MQTT connection
    When <kind> "<name>" requests the fault InvokeAuthError lasting 3 seconds on its bare connection
    Then the hub closes the latest bare connection of <kind> "<name>"
    When <kind> "<name>" connects with its own key
    Then the hub refuses the connection as not authorized
    When 3 seconds pass
    And <kind> "<name>" is connected
    Then the hub has accepted 2 connections of <kind> "<name>"

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @time
  Scenario Outline: A <kind> shut out by an authentication fault catches up once the hub lets it back in
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service has read the twin of <kind> "<name>"
    When <kind> "<name>" requests the fault InvokeAuthError lasting 2 seconds
    And the service sets desired "telemetryInterval" of <kind> "<name>" to 30
    And 2 seconds pass
    Then the hub has accepted 2 connections of <kind> "<name>"
    And <kind> "<name>" receives desired patches in version order until "telemetryInterval" is 30
    When <kind> "<name>" reports "telemetryInterval" as 30
    Then the reported version of <kind> "<name>" has gone up by 1 since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario: A fault the emulator does not emulate is acknowledged and changes nothing
    Given device "house" exists
    And device "house" opens a bare MQTT connection
    When device "house" requests the fault KillAmqpConnection on its bare connection
    And device "house" requests the fault InvokeMaxMessageQuota lasting 5 seconds on its bare connection
    Then the latest bare connection of device "house" stays open

  Scenario Outline: The hub throttles the registry calls that name a device, and a client that backs off gets through
    Given module "thermostat" exists on device "house"
    And device "garage" exists
    And the hub throttles the next 3 registry calls for device "house"
    When the service reads <what> "<name>" once
    Then the hub refuses with 429 ThrottlingException
    When the service reads device "garage" once
    And the service reads <what> "<name>" backing off when throttled
    Then the hub throttled that read 2 times before it answered

    Examples:
      | what               | name       |
      | device             | house      |
      | module             | thermostat |
      | the twin of device | house      |
      | the twin of module | thermostat |

  Scenario: A registry call can fail with any IoT Hub error, in the hub's shape
    Given device "house" exists
    And the hub fails the next 1 registry call for device "house" with 503 ServiceUnavailable
    When the service reads the twin of device "house" once
    Then the hub refuses with 503 ServiceUnavailable
