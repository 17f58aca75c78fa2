Feature: Tagged scenarios
  --tags picks scenarios by tag (from the closed set the steps accept); each
  scenario creates its own device, so any passes alone. The @wip one fails on
  purpose: it proves work in progress is left out unless asked for.

  @smoke
  Scenario: The alpha scenario
    When the service creates device "alpha" with hub-assigned keys
    Then device "alpha" has two hub-assigned keys

  @slow
  Scenario: The beta scenario
    When the service creates device "beta" with hub-assigned keys
    Then device "beta" has two hub-assigned keys

  @wip
  Scenario: The unfinished scenario
    When the service creates device "gamma" with hub-assigned keys
    Then the hub refuses with 409 DeviceAlreadyExists
