Feature: An expectation that cannot hold
  The hub creates a device it has never seen, so a refusal expected right after
  the first creation never comes: the run must fail.

  Scenario: A first-time creation expected to be refused
    When the service creates device "lamp" with hub-assigned keys
    Then the hub refuses with 409 DeviceAlreadyExists
