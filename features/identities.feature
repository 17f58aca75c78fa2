@identities
Feature: Device and module identities
  A back-end service keeps the hub's registry of devices and of the modules on
  them: it creates them with keys, reads, updates and deletes them, and guards
  its updates with etags so that it never overwrites a change it has not seen.
  Devices and modules behave alike unless a scenario says otherwise.

  Scenario Outline: The service creates a <kind> with keys the hub assigns or keys of its own
    Given device "house" exists
    When the service creates <one> with hub-assigned keys
    Then <kind> "thermostat" has two hub-assigned keys
    And <kind> "thermostat" has a generation id and an etag
    When the service creates <another> with keys of its own
    Then <kind> "lamp" has the keys the service gave it

    Examples:
      | kind   | one                                   | another                         |
      | device | device "thermostat"                   | device "lamp"                   |
      | module | module "thermostat" on device "house" | module "lamp" on device "house" |

  Scenario Outline: Creating a <kind> that already exists is refused
    Given module "thermostat" exists on device "house"
    When the service creates <identity> with hub-assigned keys
    Then the hub refuses with 409 <error>
    And <kind> "<name>" has the same keys as when it was first created

    Examples:
      | kind   | name       | identity                              | error                       |
      | device | house      | device "house"                        | DeviceAlreadyExists         |
      | module | thermostat | module "thermostat" on device "house" | ModuleAlreadyExistsOnDevice |

  Scenario Outline: An id the hub's rules do not allow is refused
    Given device "house" exists
    When the service creates <identity>
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | identity                                                   |
      | a device with the literal id "my device"                   |
      | a device with the literal id "{braces}"                    |
      | a device with the literal id "café"                        |
      | a module with the literal id "my module" on device "house" |
      | a module with the literal id "{braces}" on device "house"  |

  @limits
  Scenario Outline: An id may have 128 characters, not 129
    Given device "house" exists
    When the service creates <fitting>
    And the service creates <too long>
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | fitting                                                 | too long                                                |
      | a device with an id of 128 characters                   | a device with an id of 129 characters                   |
      | a module with an id of 128 characters on device "house" | a module with an id of 129 characters on device "house" |

  Scenario Outline: The service reads a <kind> with the etag it was created with
    Given module "thermostat" exists on device "house"
    When the service reads <kind> "<name>"
    Then <kind> "<name>" has the etag it was created with

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: The service updates a <kind> with its etag, with "*", and not with a stale etag
    Given module "thermostat" exists on device "house"
    When the service rotates the keys of <kind> "<name>" with its etag
    Then <kind> "<name>" has the keys the service gave it
    And <kind> "<name>" has a new etag
    When the service rotates the keys of <kind> "<name>" with etag "*"
    Then <kind> "<name>" has the keys the service gave it
    When the service reads <kind> "<name>"
    And the service rotates the keys of <kind> "<name>" with a stale etag
    Then the hub refuses with 412 PreconditionFailed

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: The service deletes a <kind>, and deleting it again is refused
    Given module "thermostat" exists on device "house"
    When the service rotates the keys of <kind> "<name>" with its etag
    And the service deletes <kind> "<name>" with a stale etag
    Then the hub refuses with 412 PreconditionFailed
    When the service deletes <kind> "<name>" with its etag
    Then reading <kind> "<name>" is refused with 404 <missing>
    When the service deletes <kind> "<name>"
    Then the hub refuses with 404 <missing>

    Examples:
      | kind   | name       | missing        |
      | device | house      | DeviceNotFound |
      | module | thermostat | ModuleNotFound |

  Scenario Outline: An etag the service remembers guards a later update of the <kind>, and goes stale
    Given module "thermostat" exists on device "house"
    And the service remembers the etag of <kind> "<name>" as "created"
    And the service remembers the primary key of <kind> "<name>" as "createdKey"
    When the service rotates the keys of <kind> "<name>" with etag "${created}"
    Then the etag of <kind> "<name>" is not ${created}
    And the primary key of <kind> "<name>" is not ${createdKey}
    When the service remembers the etag of <kind> "<name>" as "rotated"
    And the service rotates the keys of <kind> "<name>" with etag "${created}"
    Then the hub refuses with 412 412001
    And the etag of <kind> "<name>" is ${rotated}

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario: A disabled device stays in the registry, disabled
    Given device "house" exists
    When the service disables device "house" with its etag
    Then device "house" is disabled
    And device "house" has the same keys as when it was first created

  Scenario: Deleting a device that was never created is refused
    When the service deletes device "ghost"
    Then the hub refuses with 404 DeviceNotFound

  Scenario: A module cannot be created on a device that does not exist
    When the service creates module "thermostat" on device "nowhere"
    Then the hub refuses with 404 DeviceNotFound

  Scenario: The service lists the modules of a device
    Given module "thermostat" exists on device "house"
    And module "lamp" exists on device "house"
    And module "doorbell" exists on device "neighbour"
    Then the modules of device "house" are:
      | thermostat |
      | lamp       |

  Scenario: A deleted module takes its twin with it
    Given module "thermostat" exists on device "house"
    And module "lamp" exists on device "house"
    When the service deletes module "thermostat"
    Then reading the twin of module "thermostat" is refused with 404 ModuleNotFound
    And the modules of device "house" are:
      | lamp |

  Scenario: A deleted device takes its modules and their twins with it
    Given module "thermostat" exists on device "house"
    When the service deletes device "house"
    Then reading module "thermostat" is refused with 404 DeviceNotFound
    And reading the twin of module "thermostat" is refused with 404 DeviceNotFound
    And reading the twin of device "house" is refused with 404 DeviceNotFound

  @slow @limits
  Scenario: A device holds at most 50 modules
    Given device "house" exists
    When the service creates 50 modules on device "house"
    And the service creates module "one-too-many" on device "house"
    Then the hub refuses with 413 TooManyModulesOnDevice

  Scenario: The service reads back what it has just written
    Given device "house" exists
    When the service rotates the keys of device "house" with its etag
    And the service reads device "house"
    Then device "house" has the keys the service gave it
    When the service disables device "house" with its etag
    Then device "house" is disabled

  Scenario Outline: After a rotation the first key is refused, and a disabled device can be enabled again
    Given module "thermostat" exists on device "house"
    And the service remembers the primary key of <kind> "<name>" as "old"
    When the service rotates the keys of <kind> "<name>"
    And <kind> "<name>" connects with its first key
    Then the hub refuses the connection as not authorized
    When <kind> "<name>" connects with the key "${old}"
    Then the hub refuses the connection as not authorized
    When the service disables device "house"
    And <kind> "<name>" connects with its own key
    Then the hub refuses the connection as the device is disabled
    When the service enables device "house"
    Then device "house" is enabled
    And <kind> "<name>" is connected

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |
