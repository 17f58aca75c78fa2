Feature: A step nobody wrote
  Under --strict (the default) a step without a definition fails the run, so a
  typo in a feature file cannot pass as a green conformance check.

  Scenario: A scenario with a step that has no definition
    When the service creates device "lamp" with hub-assigned keys
    Then the service frobnicates device "lamp"
