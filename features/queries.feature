@queries
Feature: Twin queries
  A back-end service finds twins with the IoT Hub query language: it filters
  device and module twins by their ids, tags and properties, projects the
  members it needs, counts them by group, and reads large answers page by
  page. A query the language does not accept is refused with the place of the
  fault. Each query sees only the scenario's own devices and their modules;
  on a live hub, whose queries lag behind writes, the checks ask again until
  the answer settles.

  Background:
    Given device "house" exists
    And device "barn" exists
    And device "shed" exists
    And the service has patched the twin of device "house":
      """
      {"tags": {"site": "north", "floor": 3, "location": {"city": "Oslo"}}, "properties": {"desired": {"mode": "eco"}}}
      """
    And the service has patched the twin of device "barn":
      """
      {"tags": {"site": "south", "floor": 1}, "properties": {"desired": {"mode": "boost"}}}
      """

  @smoke
  Scenario: The service finds whole device twins by their tags
    When the service queries "SELECT * FROM devices WHERE tags.site = 'north' OR tags.floor < 2"
    Then the query answers these rows:
      | deviceId | tags.site | tags.floor | properties.desired.mode | status  |
      | house    | north     | 3          | eco                     | enabled |
      | barn     | south     | 1          | boost                   | enabled |
    And the query's item type is "twin"

  Scenario: A projection answers only the members it names, under their last name
    When the service queries "SELECT deviceId, tags.site, tags.location FROM devices"
    Then the query answers these rows:
      | deviceId | site      | location.city |
      | house    | north     | Oslo          |
      | barn     | south     | undefined     |
      | shed     | undefined | undefined     |
    And the query's item type is "raw"

  Scenario Outline: The WHERE clause keeps the twins whose condition is true
    When the service queries "SELECT deviceId FROM devices WHERE <condition>"
    Then the query answers the twins of devices "<devices>"

    Examples:
      | condition                                                   | devices           |
      | tags.floor = 3                                              | house             |
      | tags.floor != 3                                             | barn              |
      | tags.floor <> 3                                             | barn              |
      | tags.floor > 1                                              | house             |
      | tags.floor >= 1 AND tags.floor <= 3                         | house, barn       |
      | tags.floor < 3                                              | barn              |
      | NOT (tags.site = 'north')                                   | barn              |
      | tags.site = 'north' OR properties.desired.mode = 'boost'    | house, barn       |
      | tags.site IN ['north', 'east']                              | house             |
      | tags.site NIN ['north', 'east']                             | barn              |
      | IS_DEFINED(tags.location)                                   | house             |
      | NOT IS_DEFINED(tags.site)                                   | shed              |
      | STARTSWITH(tags.site, 'sou')                                | barn              |
      | ENDSWITH(tags.site, 'th')                                   | house, barn       |
      | status = 'enabled' AND properties.desired.$version > 1      | house, barn       |
      | tags.floor * 2 = 6                                          | house             |
      | tags.floor = '3'                                            |                   |
      | Tags.floor = 3                                              | house             |

  Scenario: COUNT answers one row, and one row per group with GROUP BY
    When the service queries "SELECT COUNT() AS n FROM devices"
    Then the query answers these rows:
      | n |
      | 3 |
    When the service queries:
      """
      SELECT tags.site AS site, COUNT() AS devices
        FROM devices
        GROUP BY tags.site
      """
    Then the query answers these rows:
      | site      | devices |
      | north     | 1       |
      | south     | 1       |
      | undefined | 1       |
    And the query's item type is "raw"

  Scenario: Module twins are queried from devices.modules
    Given module "thermostat" exists on device "house"
    And module "camera" exists on device "barn"
    And the service has patched the twin of module "thermostat":
      """
      {"tags": {"kind": "sensor"}}
      """
    When the service queries "SELECT * FROM devices.modules WHERE tags.kind = 'sensor'"
    Then the query answers these rows:
      | deviceId | moduleId   | tags.kind |
      | house    | thermostat | sensor    |
    When the service queries "SELECT * FROM devices.modules"
    Then the query answers the twins of modules "thermostat, camera"

  Scenario: Reported properties can be queried
    Given device "house" connects with its own key
    When device "house" reports "firmware" as "1.4.2"
    And the service queries "SELECT deviceId, properties.reported.firmware FROM devices WHERE IS_DEFINED(properties.reported.firmware)"
    Then the query answers these rows:
      | deviceId | firmware |
      | house    | 1.4.2    |

  Scenario: A query reflects the writes before it
    When the service queries "SELECT * FROM devices WHERE tags.ready = true"
    Then the query answers no rows
    When the service patches the twin of device "shed":
      """
      {"tags": {"ready": true}}
      """
    And the service queries "SELECT * FROM devices WHERE tags.ready = true"
    Then the query answers the twins of devices "shed"

  Scenario: A large answer comes page by page, and TOP limits it
    Given device "stable" exists
    And device "garage" exists
    When the service queries "SELECT deviceId FROM devices" 2 rows at a time
    Then the query answers 5 rows in 3 pages
    When the service queries "SELECT TOP 4 * FROM devices" 3 rows at a time
    Then the query answers 4 rows in 2 pages

  Scenario Outline: A query the language does not accept is refused where it goes wrong
    When the service queries "<query>"
    Then the hub refuses the query with 400 ArgumentInvalid at line <line>, column <column>

    Examples:
      | query                                                | line | column |
      | SELECT * FROM devices WHERE                          | 1    | 28     |
      | SELECT * FROM devices WHERE tags.site = 'north       | 1    | 41     |
      | SELECT * FROM devices WHERE tags.site == 'north'     | 1    | 40     |
      | SELECT * FROM devices WHERE tags.site IN 'north'     | 1    | 42     |
      | SELECT deviceId, COUNT() AS n FROM devices           | 1    | 8      |
      | SELECT * FROM devices WHERE LOWER(tags.site) = 'a'   | 1    | 29     |

    @emulator-only
    Examples: what a real hub has and the emulator does not
      | query                      | line | column |
      | SELECT * FROM devices.jobs | 1    | 23     |
