Feature: Two tagged scenarios
  --tags picks scenarios by tag (from the closed set the steps accept); each
  scenario creates its own device, so either passes alone.

  @smoke
  Scenario: The alpha scenario
    When the service creates device "alpha" with hub-assigned keys
    Then device "alpha" has two hub-assigned keys

  @slow
  Scenario: The beta scenario
    When the service creates device "beta" with hub-assigned keys
    Then device "beta" has two hub-assigned keys
