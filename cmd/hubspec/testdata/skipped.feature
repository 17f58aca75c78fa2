Feature: Scenarios for one kind of target
  On the embedded target the @live-only scenario is skipped, and reports
  must say so; the others run at the same time as each other.

  @live-only
  Scenario: Only a live hub runs this
    When the service creates device "live" with hub-assigned keys
    Then device "live" has two hub-assigned keys

  Scenario: The first of three that run together
    When the service creates device "one" with hub-assigned keys
    Then device "one" has two hub-assigned keys

  Scenario: The second of three that run together
    When the service creates device "two" with hub-assigned keys
    Then device "two" has two hub-assigned keys

  Scenario: The third of three that run together
    When the service creates device "three" with hub-assigned keys
    Then device "three" has two hub-assigned keys
