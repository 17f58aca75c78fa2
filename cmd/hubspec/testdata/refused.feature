Feature: A refusal nobody checks
  The second create is refused and the next step does not check it: the
  refused step is the one that fails, and the report marks it.

  Scenario: A device created twice
    When the service creates device "twice" with hub-assigned keys
    And the service creates device "twice" with hub-assigned keys
    Then device "twice" has two hub-assigned keys
