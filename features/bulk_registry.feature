@identities
Feature: Bulk registry operations
  A back-end service that provisions a fleet creates, updates and deletes
  many devices in one call (POST /devices), each by its import mode. The hub
  applies every device's operation on its own and names the devices it could
  not change, with the reason; a request that is malformed anywhere, such as
  one naming a device twice, is refused whole and changes nothing.

  @smoke
  Scenario: The service creates, updates and deletes devices in one call
    Given device "old" exists
    And device "spare" exists
    When the service applies in bulk:
      | device | mode   | status   | tags              |
      | north  | create |          | {"site": "north"} |
      | south  | create | disabled |                   |
      | spare  | update | disabled |                   |
      | old    | delete |          |                   |
    Then the bulk operation succeeds for every device
    And device "south" is disabled
    And device "spare" is disabled
    And the twin of device "north" has tag "site" equal to "north"
    And device "north" has two hub-assigned keys
    And reading device "old" is refused with 404 DeviceNotFound

  Scenario: The hub names each device it could not change, and changes the others
    Given device "taken" exists
    And device "kept" exists
    And the service has disabled device "kept"
    When the service applies in bulk:
      | device  | mode              | status  | etag         |
      | taken   | create            |         |              |
      | missing | update            |         |              |
      | kept    | updateIfMatchETag | enabled | a stale etag |
      | fresh   | create            |         |              |
    Then the bulk operation fails for:
      | device  | error               |
      | taken   | DeviceAlreadyExists |
      | missing | DeviceNotFound      |
      | kept    | PreconditionFailed  |
    And device "kept" is disabled
    And device "fresh" has a generation id and an etag

  Scenario: An update with the device's own etag applies
    Given device "kept" exists
    And the service has disabled device "kept"
    When the service applies in bulk:
      | device | mode              | status  | etag     |
      | kept   | updateIfMatchETag | enabled | its etag |
    Then the bulk operation succeeds for every device
    And device "kept" is enabled

  Scenario: A request naming a device twice is refused whole
    When the service applies in bulk:
      | device | mode   |
      | twice  | create |
      | other  | create |
      | twice  | delete |
    Then the hub refuses with 400 DeviceDefinedMultipleTimes
    And reading device "other" is refused with 404 DeviceNotFound
