@policies @emulator-only
Feature: What each shared access policy may do
  A back-end service, or a token service for devices, holds the connection
  string of one of the hub's shared access policies, and may do what that
  policy's permissions allow: iothubowner everything; service ServiceConnect,
  the twins; device DeviceConnect, devices' connections and no REST call;
  registryRead RegistryRead, reading identities; registryReadWrite
  RegistryRead and RegistryWrite, also creating, updating and deleting them.
  Anything else the hub refuses with 401 IotHubUnauthorizedAccess and
  changes nothing. A live hub is given one connection string, so these run
  on an emulator, which gives them all.

  @identities
  Scenario Outline: The <policy> policy may read the registry
    Given module "thermostat" exists on device "house"
    And the service uses the "<policy>" policy
    When the service lists the devices
    And the service reads device "house"
    And the service reads module "thermostat"
    Then the modules of device "house" are:
      | thermostat |

    Examples:
      | policy            |
      | iothubowner       |
      | registryRead      |
      | registryReadWrite |

  @identities
  Scenario Outline: The <policy> policy may not read the registry
    Given module "thermostat" exists on device "house"
    And the service uses the "<policy>" policy
    When the service lists the devices
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    And reading device "house" is refused with 401 IotHubUnauthorizedAccess
    And reading module "thermostat" is refused with 401 IotHubUnauthorizedAccess

    Examples:
      | policy  |
      | service |
      | device  |

  @identities
  Scenario Outline: The <policy> policy may create, update and delete identities
    Given the service uses the "<policy>" policy
    When the service creates device "house"
    And the service creates module "thermostat" on device "house"
    And the service rotates the keys of device "house" with its etag
    Then device "house" has the keys the service gave it
    When the service deletes module "thermostat"
    Then reading module "thermostat" is refused with 404 ModuleNotFound
    When the service deletes device "house"
    Then reading device "house" is refused with 404 DeviceNotFound

    Examples:
      | policy            |
      | iothubowner       |
      | registryReadWrite |

  @identities
  Scenario Outline: The <policy> policy may not create, update or delete identities, and nothing changes
    Given module "thermostat" exists on device "house"
    And the service uses the "<policy>" policy
    When the service creates device "lamp"
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service creates module "switch" on device "house"
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service rotates the keys of device "house"
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service deletes module "thermostat"
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service deletes device "house"
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service uses the "iothubowner" policy
    Then reading device "lamp" is refused with 404 DeviceNotFound
    And the modules of device "house" are:
      | thermostat |
    And device "house" has the same keys as when it was first created
    And device "house" has the etag it was created with

    Examples:
      | policy       |
      | service      |
      | device       |
      | registryRead |

  @twins
  Scenario Outline: The <policy> policy may read and write twins
    Given module "thermostat" exists on device "house"
    And the service uses the "<policy>" policy
    When the service reads the twin of device "house"
    And the service sets desired "mode" of device "house" to "eco" with the twin's etag
    And the service patches the twin of module "thermostat":
      """
      {"tags": {"room": "kitchen"}}
      """
    Then the twin of device "house" has desired "mode" equal to "eco"
    And the twin of module "thermostat" has tag "room" equal to "kitchen"

    Examples:
      | policy      |
      | iothubowner |
      | service     |

  @twins
  Scenario Outline: The <policy> policy may not read or write twins, and the twins are unchanged
    Given module "thermostat" exists on device "house"
    And the service has read the twin of device "house"
    And the service has read the twin of module "thermostat"
    And the service uses the "<policy>" policy
    Then reading the twin of device "house" is refused with 401 IotHubUnauthorizedAccess
    And reading the twin of module "thermostat" is refused with 401 IotHubUnauthorizedAccess
    When the service sets desired "mode" of device "house" to "eco"
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service patches the twin of module "thermostat":
      """
      {"tags": {"room": "kitchen"}}
      """
    Then the hub refuses with 401 IotHubUnauthorizedAccess
    When the service uses the "iothubowner" policy
    Then the twin of device "house" does not have desired "mode"
    And the twin of module "thermostat" does not have tag "room"

    Examples:
      | policy            |
      | device            |
      | registryRead      |
      | registryReadWrite |

  @mqtt
  Scenario Outline: A <kind> connects with a token of the <policy> policy, which has DeviceConnect
    Given module "thermostat" exists on device "house"
    When <kind> "<name>" connects with a token of the "<policy>" policy
    And <kind> "<name>" reports "mode" as "eco"
    Then the twin of <kind> "<name>" has reported "mode" equal to "eco"

    Examples:
      | kind   | name       | policy      |
      | device | house      | device      |
      | module | thermostat | device      |
      | device | house      | iothubowner |

  @mqtt
  Scenario Outline: A token of the <policy> policy, which lacks DeviceConnect, does not connect a <kind>
    Given module "thermostat" exists on device "house"
    When <kind> "<name>" connects with a token of the "<policy>" policy
    Then the hub refuses the connection as not authorized

    Examples:
      | kind   | name       | policy            |
      | device | house      | service           |
      | device | house      | registryRead      |
      | module | thermostat | registryReadWrite |
