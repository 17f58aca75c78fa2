@c2d
Feature: Cloud-to-device messages
  The service sends a message to one device over AMQP; the hub keeps it in
  the device's queue until the device, subscribed over MQTT, acknowledges it,
  and reports the outcome to the service as feedback when asked: Success
  once the device completed it, Expired when it outlived its expiry
  first. At most 50 messages wait per device, and a message reaches the
  device it was sent to and no other.

  Scenario: The device receives exactly what the service sent, and the service gets Success feedback
    Given device "lamp" exists
    And device "lamp" is connected
    And device "lamp" listens for cloud-to-device messages
    When the service sends cloud-to-device message "switch-on" to device "lamp" asking for full acknowledgement
    Then device "lamp" receives cloud-to-device message "switch-on"
    And the service gets "Success" feedback for cloud-to-device message "switch-on"

  Scenario: A message held for an offline device arrives when it listens
    Given device "lamp" exists
    When the service sends cloud-to-device message "while-away" to device "lamp"
    And device "lamp" is connected
    And device "lamp" listens for cloud-to-device messages
    Then device "lamp" receives cloud-to-device message "while-away"

  @time
  Scenario: A message that expires before its device comes online gets Expired feedback
    Given device "lamp" exists
    When the service sends cloud-to-device message "too-late" to device "lamp" asking for full acknowledgement expiring in 2 seconds
    And 2 seconds pass
    Then the service gets "Expired" feedback for cloud-to-device message "too-late"

  @limits
  Scenario: A 51st waiting message is refused
    Given device "lamp" exists
    And the service sends 50 cloud-to-device messages to device "lamp"
    When the service sends cloud-to-device message "one-too-many" to device "lamp"
    Then the hub refuses with 403 DeviceMaximumQueueDepthExceeded

  Scenario: A message sent to one device never reaches another
    Given device "lamp" exists
    And device "heater" exists
    And device "lamp" is connected
    And device "heater" is connected
    And device "lamp" listens for cloud-to-device messages
    And device "heater" listens for cloud-to-device messages
    When the service sends cloud-to-device message "for-heater" to device "heater"
    Then device "heater" receives cloud-to-device message "for-heater"
    And device "lamp" receives no cloud-to-device message within 2 seconds
