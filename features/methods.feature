@methods
Feature: Direct methods
  The service calls a method on a device or a module and waits for its
  answer: the hub hands the call to the identity's own connection, if it is
  online and subscribed to method calls, and brings back the status and the
  payload the identity answers with. The hub keeps the rules of the call:
  404 DeviceNotOnline when the identity does not come online in time, 504
  GatewayTimeout when it does not answer in time, answers that are late,
  unknown or from another identity dropped, 128 KB at most each way, and
  method names and timeouts checked.

  Scenario Outline: A <kind> answers a direct method over <transport>
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected over <transport>
    And <kind> "<name>" answers method "reboot" with status 200 and payload {"rebooted": true}
    When the service invokes method "reboot" on <kind> "<name>" with payload {"delay": 5, "reason": "update"}
    Then the call of method "reboot" on <kind> "<name>" returns status 200 and payload {"rebooted": true}
    And <kind> "<name>" received method "reboot" with payload {"delay": 5, "reason": "update"}

    Examples:
      | kind   | name       | transport  |
      | device | house      | TLS        |
      | module | thermostat | TLS        |
      | device | house      | WebSockets |
      | module | thermostat | WebSockets |

  Scenario: A call without payload arrives without one, and an answer without payload is null
    Given module "thermostat" exists on device "house"
    And module "thermostat" is connected
    And module "thermostat" answers method "ping" with status 204
    When the service invokes method "ping" on module "thermostat"
    Then the call of method "ping" on module "thermostat" returns status 204 and payload null
    And module "thermostat" received method "ping" with no payload

  Scenario: A call reaches the module called and no other identity
    Given module "thermostat" exists on device "house"
    And module "hygrometer" exists on device "house"
    And device "house" is connected
    And module "hygrometer" is connected
    And module "thermostat" is connected
    And device "house" answers method "reboot" with status 500
    And module "hygrometer" answers method "reboot" with status 500
    And module "thermostat" answers method "reboot" with status 200
    When the service invokes method "reboot" on module "thermostat"
    Then the call of method "reboot" on module "thermostat" returns status 200
    And device "house" received no method call
    And module "hygrometer" received no method call

  Scenario Outline: A <kind> that is not connected is not online
    Given module "thermostat" exists on device "house"
    When the service invokes method "reboot" on <kind> "<name>"
    Then the hub refuses with 404 DeviceNotOnline

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario: A module connected without a subscription to method calls is not online
    Given module "thermostat" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to twin responses
    When the service invokes method "reboot" on module "thermostat"
    Then the hub refuses with 404 DeviceNotOnline

  Scenario: The hub waits up to the connect timeout for the module to come online
    Given module "thermostat" exists on device "house"
    When the service starts invoking method "reboot" on module "thermostat" with payload {"delay": 1} and connect timeout 30
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    And module "thermostat" receives method "reboot" with payload {"delay": 1} on its bare connection
    And module "thermostat" answers method "reboot" on its bare connection with status 202 and payload "rebooting"
    Then the call of method "reboot" on module "thermostat" returns status 202 and payload "rebooting"

  @time
  Scenario: A module that does not answer in time makes the call a gateway timeout
    Given module "thermostat" exists on device "house"
    And module "thermostat" is connected
    And module "thermostat" does not answer method "reboot"
    When the service starts invoking method "reboot" on module "thermostat" and response timeout 5
    And module "thermostat" received method "reboot"
    And 5 seconds pass
    And the call of method "reboot" on module "thermostat" ends
    Then the hub refuses with 504 GatewayTimeout

  @time
  Scenario: An answer after the response timeout is dropped and never answers a later call
    Given module "thermostat" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    When the service starts invoking method "reboot" on module "thermostat" and response timeout 5
    And module "thermostat" receives method "reboot" on its bare connection
    And 5 seconds pass
    And the call of method "reboot" on module "thermostat" ends
    Then the hub refuses with 504 GatewayTimeout
    When the service starts invoking method "status" on module "thermostat"
    And module "thermostat" receives method "status" on its bare connection
    And module "thermostat" answers method "reboot" on its bare connection with status 500 and payload "late"
    And module "thermostat" answers method "status" on its bare connection with status 200 and payload "fine"
    Then the call of method "status" on module "thermostat" returns status 200 and payload "fine"
    And the latest bare connection of module "thermostat" stays open

  Scenario: An answer under a request id the hub never gave is dropped
    Given module "thermostat" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    When the service starts invoking method "reboot" on module "thermostat"
    And module "thermostat" receives method "reboot" on its bare connection
    And module "thermostat" answers method "reboot" on its bare connection with status 500 and payload "forged" under an unknown request id
    And module "thermostat" answers method "reboot" on its bare connection with status 200 and payload "genuine"
    Then the call of method "reboot" on module "thermostat" returns status 200 and payload "genuine"
    And the latest bare connection of module "thermostat" stays open

  Scenario: An answer from another identity is dropped
    Given module "thermostat" exists on device "house"
    And module "intruder" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    And module "intruder" opens a bare MQTT connection
    When the service starts invoking method "unlock" on module "thermostat"
    And module "thermostat" receives method "unlock" on its bare connection
    And module "intruder" answers method "unlock" on its bare connection with status 200 and payload "forged" under the request id module "thermostat" got
    And module "thermostat" answers method "unlock" on its bare connection with status 403 and payload "refused"
    Then the call of method "unlock" on module "thermostat" returns status 403 and payload "refused"
    And the latest bare connection of module "intruder" stays open

  Scenario: Many calls in flight on one connection each get their own answer
    Given module "thermostat" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    When the service starts invoking method "first" on module "thermostat"
    And the service starts invoking method "second" on module "thermostat"
    And the service starts invoking method "third" on module "thermostat"
    And module "thermostat" receives method "third" on its bare connection
    And module "thermostat" receives method "first" on its bare connection
    And module "thermostat" receives method "second" on its bare connection
    And module "thermostat" answers method "third" on its bare connection with status 203 and payload 3
    And module "thermostat" answers method "second" on its bare connection with status 202 and payload 2
    And module "thermostat" answers method "first" on its bare connection with status 201 and payload 1
    Then the call of method "first" on module "thermostat" returns status 201 and payload 1
    And the call of method "second" on module "thermostat" returns status 202 and payload 2
    And the call of method "third" on module "thermostat" returns status 203 and payload 3

  @limits
  Scenario: A payload of 128 KB goes through both ways
    Given module "thermostat" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    When the service starts invoking method "upload" on module "thermostat" with a payload of 131072 bytes
    And module "thermostat" receives method "upload" with a payload of 131072 bytes on its bare connection
    And module "thermostat" answers method "upload" on its bare connection with status 200 and a payload of 131072 bytes
    Then the call of method "upload" on module "thermostat" returns status 200 and a payload of 131072 bytes

  @limits
  Scenario: A call with a payload over 128 KB is refused
    Given module "thermostat" exists on device "house"
    And module "thermostat" is connected
    And module "thermostat" answers method "upload" with status 200
    When the service invokes method "upload" on module "thermostat" with a payload of 131073 bytes
    Then the hub refuses with 400 ArgumentInvalid
    And module "thermostat" received no method call

  @limits
  Scenario: An answer over 128 KB is dropped
    Given module "thermostat" exists on device "house"
    And module "thermostat" opens a bare MQTT connection
    And module "thermostat" subscribes to direct method calls
    When the service starts invoking method "download" on module "thermostat"
    And module "thermostat" receives method "download" on its bare connection
    And module "thermostat" answers method "download" on its bare connection with status 200 and a payload of 131073 bytes
    And module "thermostat" answers method "download" on its bare connection with status 413 and payload "too big"
    Then the call of method "download" on module "thermostat" returns status 413 and payload "too big"

  Scenario Outline: The hub refuses the method name <case>
    Given module "thermostat" exists on device "house"
    And module "thermostat" is connected
    When the service invokes method "<method>" on module "thermostat"
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | case                  | method   |
      | that is empty         |          |
      | with a space          | re boot  |
      | with a slash          | a/b      |
      | starting with a $     | $reboot  |
      | with an MQTT wildcard | reboot#  |
      | with a non-ASCII one  | redémarre |

  Scenario Outline: The hub refuses a <timeout> timeout of <seconds> seconds
    Given module "thermostat" exists on device "house"
    And module "thermostat" is connected
    When the service invokes method "reboot" on module "thermostat" and <timeout> timeout <seconds>
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | timeout  | seconds |
      | response | 4       |
      | response | 301     |
      | connect  | -1      |
      | connect  | 301     |

  Scenario: A call to a deleted module, an unknown device or a disabled device finds no identity
    Given module "thermostat" exists on device "house"
    And device "shed" exists
    And the service has deleted module "thermostat"
    And the service has disabled device "shed"
    When the service invokes method "reboot" on module "thermostat"
    Then the hub refuses with 404 ModuleNotFound
    When the service invokes method "reboot" on device "nowhere"
    Then the hub refuses with 404 DeviceNotFound
    When the service invokes method "reboot" on device "shed"
    Then the hub refuses with 404 DeviceNotFound
