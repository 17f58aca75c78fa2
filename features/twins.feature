@twins
Feature: Device and module twins
  A back-end service configures devices and modules through the desired
  properties of their twins, and files them with tags. The hub versions every
  change, guards writes with etags, merges patches, and keeps each twin within
  its documented limits. Device twins and module twins behave alike.

  Scenario Outline: The service reads the twin of a <kind>
    Given module "thermostat" exists on device "house"
    When the service reads the twin of <kind> "<name>"
    Then the twin of <kind> "<name>" names <identity>
    And the twin of <kind> "<name>" has "etag"
    And the twin of <kind> "<name>" matches:
      """
      {"properties": {"desired": {"$version": 1}, "reported": {"$version": 1}}}
      """

    Examples:
      | kind   | name       | identity                              |
      | device | house      | device "house"                        |
      | module | thermostat | module "thermostat" on device "house" |

  Scenario Outline: A desired patch with the twin's etag counts once and changes the etag
    Given module "thermostat" exists on device "house"
    And the service has read the twin of <kind> "<name>"
    When the service patches the twin of <kind> "<name>" with the twin's etag:
      """
      {"properties": {"desired": {"telemetryInterval": 30}}}
      """
    Then the twin of <kind> "<name>" has desired "telemetryInterval" equal to 30
    And the desired version of <kind> "<name>" has gone up by 1 since the service read it
    And the twin etag of <kind> "<name>" has changed since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A patch with an outdated or made-up etag is refused and changes nothing
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"telemetryInterval": 30}}}
      """
    And the service has read the twin of <kind> "<name>"
    When the service patches the twin of <kind> "<name>" with <etag>:
      """
      {"properties": {"desired": {"telemetryInterval": 5}}}
      """
    Then the hub refuses with 412 PreconditionFailed
    And the twin of <kind> "<name>" has desired "telemetryInterval" equal to 30
    And the desired version of <kind> "<name>" is unchanged since the service read it
    And the twin etag of <kind> "<name>" is unchanged since the service read it

    Examples:
      | kind   | name       | etag               |
      | device | house      | a stale etag       |
      | module | thermostat | a stale etag       |
      | device | house      | etag "not-an-etag" |
      | module | thermostat | etag "not-an-etag" |

  Scenario Outline: A patch with etag "*" applies whatever changed since the service read the twin
    Given module "thermostat" exists on device "house"
    And the service has read the twin of <kind> "<name>"
    And someone else has since set desired "telemetryInterval" of <kind> "<name>" to 5
    When the service patches the twin of <kind> "<name>" with etag "*":
      """
      {"properties": {"desired": {"telemetryInterval": 30}}}
      """
    Then the twin of <kind> "<name>" has desired "telemetryInterval" equal to 30
    And the desired version of <kind> "<name>" has gone up by 2 since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Values remembered from the twin of a <kind> go into a later patch and check it
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"telemetryInterval": 30, "mode": "eco", "schedule": [1, 2], "config": {"rate": 1}, "enabled": true}}}
      """
    When the service remembers desired "$version" of the twin of <kind> "<name>" as "version"
    And the service remembers "etag" of the twin of <kind> "<name>" as "etag"
    And the service remembers desired "mode" of the twin of <kind> "<name>" as "mode"
    And the service patches the twin of <kind> "<name>" with etag "${etag}":
      """
      {"properties": {"desired": {"telemetryInterval": ${version}, "previousMode": "${mode}"}}}
      """
    Then the twin of <kind> "<name>" has desired "$version" greater than ${version}
    And the twin of <kind> "<name>" has desired "telemetryInterval" equal to ${version}
    And the twin of <kind> "<name>" has desired "telemetryInterval" less than 30
    And the twin of <kind> "<name>" has desired "previousMode" equal to ${mode}
    And the twin of <kind> "<name>" does not have "etag" equal to ${etag}
    And the twin of <kind> "<name>" has "etag" of type string
    And the twin of <kind> "<name>" has desired "schedule" of type array
    And the twin of <kind> "<name>" has desired "config" of type object
    And the twin of <kind> "<name>" has desired "enabled" of type boolean
    And the twin of <kind> "<name>" does not have desired "mode" of type number

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A patch merges into nested properties and leaves their siblings alone
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"config": {"rate": 1, "unit": "s", "limits": {"low": 0, "high": 9}}, "mode": "eco"}}}
      """
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"config": {"rate": 2, "limits": {"high": 10}}}}}
      """
    Then the twin of <kind> "<name>" matches:
      """
      {"properties": {"desired": {"config": {"rate": 2, "unit": "s", "limits": {"low": 0, "high": 10}}, "mode": "eco"}}}
      """

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Null deletes a property, and a patch of only nulls creates nothing
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"config": {"rate": 1, "unit": "s"}, "mode": "eco"}}}
      """
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"config": {"unit": null}, "mode": null, "ghost": {"a": null}}}}
      """
    Then the twin of <kind> "<name>" matches:
      """
      {"properties": {"desired": {"config": {"rate": 1, "unit": null}, "mode": null, "ghost": null}}}
      """

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Replacing the twin drops every tag and desired property the replacement does not carry
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"tags": {"room": "kitchen"}, "properties": {"desired": {"mode": "eco", "rate": 1}}}
      """
    And the service has read the twin of <kind> "<name>"
    When the service replaces the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"rate": 2}}}
      """
    Then the twin of <kind> "<name>" matches:
      """
      {"tags": {"room": null}, "properties": {"desired": {"mode": null, "rate": 2}}}
      """
    And the desired version of <kind> "<name>" has gone up by 1 since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Tags are set, merged and deleted like desired properties, without touching them
    Given module "thermostat" exists on device "house"
    And the service has read the twin of <kind> "<name>"
    When the service patches the twin of <kind> "<name>":
      """
      {"tags": {"location": {"building": "43", "floor": "1"}}}
      """
    And the service patches the twin of <kind> "<name>":
      """
      {"tags": {"location": {"floor": "2"}, "owner": "ops"}}
      """
    Then the twin of <kind> "<name>" matches:
      """
      {"tags": {"location": {"building": "43", "floor": "2"}, "owner": "ops"}}
      """
    When the service patches the twin of <kind> "<name>":
      """
      {"tags": {"owner": null}}
      """
    Then the twin of <kind> "<name>" does not have tag "owner"
    And the twin of <kind> "<name>" has tag "location.floor" equal to "2"
    And the desired version of <kind> "<name>" is unchanged since the service read it
    And the twin etag of <kind> "<name>" has changed since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A <kind> reading its own twin sees its desired properties and never the tags
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    When the service patches the twin of <kind> "<name>":
      """
      {"tags": {"room": "kitchen"}, "properties": {"desired": {"mode": "eco"}}}
      """
    Then the twin of <kind> "<name>" as the <kind> reads it has "desired.mode" equal to "eco"
    And the twin of <kind> "<name>" as the <kind> reads it does not have "tags"
    And the twin of <kind> "<name>" as the <kind> reads it does not have "desired.room"

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: A reported update by the <kind> counts in the reported version, and leaves the etag alone
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    And the service has read the twin of <kind> "<name>"
    When <kind> "<name>" reports "firmware" as "1.2.0"
    Then the reported version of <kind> "<name>" has gone up by 1 since the service read it
    And reported "firmware" of <kind> "<name>" was updated since the service read it
    And the desired version of <kind> "<name>" is unchanged since the service read it
    And the twin etag of <kind> "<name>" is unchanged since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Arrays in desired properties come back exactly as written
    Given module "thermostat" exists on device "house"
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"schedule": [1, "two", {"three": 3}, [4.5, true]], "none": []}}}
      """
    Then the twin of <kind> "<name>" has desired "schedule" equal to [1, "two", {"three": 3}, [4.5, true]]
    And the twin of <kind> "<name>" has desired "none" equal to []

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Arrays in reported properties come back exactly as the <kind> wrote them
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    When <kind> "<name>" reports "readings" as [21.5, 22, {"at": "noon"}, ["x"]]
    Then the twin of <kind> "<name>" has reported "readings" equal to [21.5, 22, {"at": "noon"}, ["x"]]

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @limits
  Scenario Outline: Integers within plus or minus 2^52 and date-time strings round-trip; larger integers are refused
    Given module "thermostat" exists on device "house"
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"max": 4503599627370495, "min": -4503599627370496, "ratio": 0.25, "at": "2026-11-22T07:43:07.1234567Z"}}}
      """
    Then the twin of <kind> "<name>" matches:
      """
      {"properties": {"desired": {"max": 4503599627370495, "min": -4503599627370496, "ratio": 0.25, "at": "2026-11-22T07:43:07.1234567Z"}}}
      """
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"over": <too large>}}}
      """
    Then the hub refuses with 400 ArgumentInvalid
    And the twin of <kind> "<name>" does not have desired "over"

    Examples:
      | kind   | name       | too large         |
      | device | house      | 4503599627370496  |
      | module | thermostat | -4503599627370497 |

  Scenario Outline: Property names with $, a dot, a space or a control character are refused
    Given module "thermostat" exists on device "house"
    And the service has read the twin of <kind> "<name>"
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"<key>": 1}}}
      """
    Then the hub refuses with 400 ArgumentInvalid
    When the service patches the twin of <kind> "<name>":
      """
      {"tags": {"<key>": 1}}
      """
    Then the hub refuses with 400 ArgumentInvalid
    And the twin etag of <kind> "<name>" is unchanged since the service read it

    Examples:
      | kind   | name       | key         |
      | device | house      | $custom     |
      | module | thermostat | $custom     |
      | device | house      | room.number |
      | module | thermostat | room number |
      | device | house      | bell\u0007  |
      | module | thermostat | tab\u0009   |
      | device | house      | price$usd   |
      | module | thermostat | price$usd   |

  Scenario Outline: A <kind> cannot report a property whose name the hub does not allow
    Given module "thermostat" exists on device "house"
    And <kind> "<name>" is connected
    When <kind> "<name>" reports "<key>" as 1
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | kind   | name       | key         |
      | device | house      | $custom     |
      | module | thermostat | room.number |

  @limits
  Scenario Outline: Objects nest ten deep, not eleven
    Given module "thermostat" exists on device "house"
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"l8": {"l9": {"l10": {"leaf": 1}}}}}}}}}}}}}
      """
    Then the twin of <kind> "<name>" has desired "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.leaf" equal to 1
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"l8": {"l9": {"l10": {"l11": {"leaf": 1}}}}}}}}}}}}}}
      """
    Then the hub refuses with 400 ArgumentInvalid
    And the twin of <kind> "<name>" does not have desired "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11"

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @limits
  Scenario Outline: Desired properties fill up to 32 KB and tags up to 8 KB, and not a byte more
    Given module "thermostat" exists on device "house"
    When the service patches the twin of <kind> "<name>" with desired properties of 32768 bytes
    And the service patches the twin of <kind> "<name>" with tags of 8192 bytes
    Then the twin of <kind> "<name>" has desired "p08"
    And the twin of <kind> "<name>" has tag "p02"
    When the service patches the twin of <kind> "<name>" with desired properties of 32769 bytes
    Then the hub refuses with 400 ArgumentInvalid
    When the service patches the twin of <kind> "<name>" with tags of 8193 bytes
    Then the hub refuses with 400 ArgumentInvalid

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  @limits
  Scenario Outline: A string just under 4 KB fits, and one over 4 KB is refused
    Given module "thermostat" exists on device "house"
    When the service writes a string of 4000 characters to desired "note" of <kind> "<name>"
    Then the twin of <kind> "<name>" has desired "note"
    When the service writes a string of 4097 characters to tag "note" of <kind> "<name>"
    Then the hub refuses with 400 ArgumentInvalid
    And the twin of <kind> "<name>" does not have tag "note"

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |

  Scenario Outline: Each level's last-updated time moves with an update beneath it, and only then
    Given module "thermostat" exists on device "house"
    And the service has patched the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"config": {"rate": 1, "unit": "s"}, "mode": "eco"}}}
      """
    And the service has read the twin of <kind> "<name>"
    When the service patches the twin of <kind> "<name>":
      """
      {"properties": {"desired": {"config": {"rate": 2}}}}
      """
    Then desired "config.rate" of <kind> "<name>" was updated since the service read it
    And desired "config" of <kind> "<name>" was updated since the service read it
    And desired "config.unit" of <kind> "<name>" was not updated since the service read it
    And desired "mode" of <kind> "<name>" was not updated since the service read it

    Examples:
      | kind   | name       |
      | device | house      |
      | module | thermostat |
